"""Boot a real kernel in qemu and read back the command line it received.

Use it to prove that a boot config we wrote (a PXELINUX APPEND line, a GRUB
`linux` line, an ISO menu entry) hands its arguments to the kernel intact:

    initrd = build_probe_initramfs(tmp_path / "probe.cpio")
    seen = boot_cmdline(debian_kernel(), initrd, "inst.ks=http://x/a.ks ip=dhcp")
    assert "inst.ks=http://x/a.ks" in seen.split()

The initramfs is a newc cpio written here in Python (no root, no cpio tool):
busybox-static, /dev/console, and an /init that prints /proc/cmdline between
markers and powers off. qemu runs with TCG, no network devices at all
(`-nic none`), `-no-reboot`, serial console on stdout; a boot takes ~5-15 s.
"""

import glob
import os
import shutil
import stat
import subprocess

BUSYBOX = "/bin/busybox"
BEGIN = "BOOTPROBE-CMDLINE-BEGIN"
END = "BOOTPROBE-CMDLINE-END"
PROBE_ARGS = "console=ttyS0 panic=-1 quiet"
_INIT = f"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc
/bin/busybox mount -t proc proc /proc
echo {BEGIN}
/bin/busybox cat /proc/cmdline
echo {END}
/bin/busybox poweroff -f
"""


def missing_tools():
    """None when a probe boot can run here, else what to install."""
    if not shutil.which("qemu-system-x86_64"):
        return "qemu-system-x86_64 is missing (apt-get install qemu-system-x86)"
    if not os.path.exists(BUSYBOX):
        return "busybox is missing (apt-get install busybox-static)"
    if not debian_kernel():
        return "no kernel in /boot (apt-get install linux-image-amd64)"
    return None


def debian_kernel():
    """The newest /boot/vmlinuz-* of this machine, or None."""
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    return kernels[-1] if kernels else None


def _cpio_entry(name, mode, data=b"", rdev=(0, 0), ino=1):
    """One newc record: 110-byte ASCII header, name, data, each 4-byte aligned."""
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0]
    header = b"070701" + b"".join(b"%08X" % value for value in fields)
    record = header + name.encode() + b"\0"
    record += b"\0" * (-len(record) % 4) + data
    return record + b"\0" * (-len(record) % 4)


def build_probe_initramfs(path):
    """Write the probe initramfs (uncompressed newc cpio) to PATH; return PATH."""
    with open(BUSYBOX, "rb") as stream:
        busybox = stream.read()
    entries = [
        ("dev", stat.S_IFDIR | 0o755, b"", (0, 0)),
        ("dev/console", stat.S_IFCHR | 0o600, b"", (5, 1)),
        ("bin", stat.S_IFDIR | 0o755, b"", (0, 0)),
        ("bin/busybox", stat.S_IFREG | 0o755, busybox, (0, 0)),
        ("proc", stat.S_IFDIR | 0o755, b"", (0, 0)),
        ("init", stat.S_IFREG | 0o755, _INIT.encode(), (0, 0)),
    ]
    with open(path, "wb") as out:
        for ino, (name, mode, data, rdev) in enumerate(entries, 1):
            out.write(_cpio_entry(name, mode, data, rdev, ino))
        out.write(_cpio_entry("TRAILER!!!", 0, ino=0))
    return path


def boot_cmdline(kernel, initrd, append, timeout=180):
    """Boot KERNEL with INITRD and APPEND (plus PROBE_ARGS); return /proc/cmdline.

    Raises AssertionError with the console log when the markers never appear.
    """
    command = ["qemu-system-x86_64", "-accel", "tcg", "-nographic", "-no-reboot",
               "-nic", "none", "-m", "256", "-kernel", str(kernel), "-initrd", str(initrd),
               "-append", f"{append} {PROBE_ARGS}"]
    result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=timeout, check=False)
    log = result.stdout.decode("utf-8", errors="replace").replace("\r", "")
    if BEGIN not in log or END not in log:
        raise AssertionError(f"the probe never printed its command line:\n{log[-3000:]}")
    return log.split(BEGIN, 1)[1].split(END, 1)[0].strip()
