"""Run a script inside a qemu VM (TCG) with real LVM, via virtme-ng.

The host's root filesystem is shared read-only, so the guest runs this very
checkout and venv; WORKDIR is shared read-write for the script's results.
The host kernel has no device-mapper, which is why LVM tests need this.
"""

import glob
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)


def guest_kernel():
    """The newest Debian kernel installed in /boot."""
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    if not kernels:
        raise RuntimeError("no /boot/vmlinuz-* (install linux-image-amd64)")
    return kernels[-1]


def vng_command(script_path, disks, workdir, memory="2G", cpu=None):
    """The vng command line that runs SCRIPT_PATH in a VM with DISKS attached.

    CPU, if given, replaces qemu's CPU model (`-cpu max` by default).
    """
    vng = shutil.which("vng", path=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    cmd = [vng, "--run", guest_kernel(), "--disable-kvm", "--force-9p", "--memory", memory,
           "--cpus", "2", f"--rwdir={workdir}"]
    for disk in disks:
        cmd += ["--disk", disk]
    if cpu:
        cmd.append(f"--qemu-opts=-cpu {cpu}")
    return cmd + ["--", f"sh {script_path}"]


def run_in_vm(script, disks, workdir, env=None, timeout=1800, memory="2G", cpu=None):
    """Run shell SCRIPT in a VM with DISKS (files; /dev/vda, /dev/vdb, ...).

    ENV values are exported at the top of the script; MEMORY is the VM's RAM
    and CPU its qemu CPU model (see vng_command).
    Returns the completed process; the VM's console output is in its stdout.
    """
    exports = {"REPO": REPO, "VENV_BIN": VENV_BIN, "OUT": workdir, **(env or {})}
    header = "".join(f"export {key}='{value}'\n" for key, value in exports.items())
    script_path = os.path.join(workdir, "guest.sh")
    with open(script_path, "w", encoding="utf-8") as handle:
        # LVM warns about fds 3-5 that virtme leaves open in the guest.
        handle.write("exec 3>&- 4>&- 5>&-\n" + header +
                     'export PATH="$VENV_BIN:$PATH" LVM_SUPPRESS_FD_WARNINGS=1\n'
                     "modprobe -a dm_thin_pool dm_snapshot loop squashfs\n" + script)
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(vng_command(script_path, disks, workdir, memory, cpu),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, check=False, env=env)


def sparse_disk(path, size):
    """Create a sparse disk file of SIZE bytes at PATH."""
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path
