"""Boot an installed node disk the way a machine does: firmware, then the disk's GRUB.

No -kernel: SeaBIOS (qemu's default) runs the GRUB in the MBR and BIOS boot
partition, OVMF the removable-path EFI/BOOT/BOOTX64.EFI on the ESP (with a
fresh copy of its variable store, so no NVRAM entry helps). TCG only: KVM
hangs on this host. The demo image's init powers the VM off when done.
"""

import os
import shutil
import subprocess
import tempfile

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"


def boot_disk(disk, firmware="bios", timeout=900, reboots_allowed=False):
    """Boot DISK with FIRMWARE ("bios" or "uefi"); return the serial console text
    (lines end in a plain newline).

    Without REBOOTS_ALLOWED a reboot (a kernel panic, with the demo's panic=-1)
    ends the run, as the demo init's power-off does; with it GRUB runs again,
    so boot counting can take its course, and only the power-off or TIMEOUT
    (seconds) ends the run. On timeout the console so far is returned.
    """
    if firmware not in ("bios", "uefi"):
        raise ValueError(f"firmware is bios or uefi, not {firmware!r}")
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", "1024", "-nographic", "-nic", "none",
           "-drive", f"file={disk},format=raw,if=virtio"]
    if not reboots_allowed:
        cmd.append("-no-reboot")
    with tempfile.TemporaryDirectory(prefix="nodeboot-") as work:
        if firmware == "uefi":
            variables = os.path.join(work, "OVMF_VARS.fd")
            shutil.copyfile(OVMF_VARS, variables)
            cmd += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                    "-drive", f"if=pflash,format=raw,file={variables}"]
        try:
            result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, timeout=timeout, check=False)
            output = result.stdout
        except subprocess.TimeoutExpired as expired:
            output = expired.stdout or b""
    return output.decode("utf-8", "replace").replace("\r\n", "\n")
