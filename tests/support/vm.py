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

from tests.support.buildlock import REPO, build_lock

VENV_BIN = os.path.dirname(sys.executable)


def guest_kernel():
    """The newest Debian kernel installed in /boot."""
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    if not kernels:
        raise RuntimeError("no /boot/vmlinuz-* (install linux-image-amd64)")
    return kernels[-1]


def vng_command(script_path, disks, workdir, memory="2G", cpu=None, qemu_options=()):
    """The vng command line that runs SCRIPT_PATH in a VM with DISKS attached.

    CPU, if given, replaces qemu's CPU model (`-cpu max` by default);
    QEMU_OPTIONS are more qemu arguments (no spaces in any of them).
    """
    vng = shutil.which("vng", path=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    cmd = [vng, "--run", guest_kernel(), "--disable-kvm", "--force-9p", "--memory", memory,
           "--cpus", "2", f"--rwdir={workdir}"]
    for disk in disks:
        cmd += ["--disk", disk]
    extra = (["-cpu", cpu] if cpu else []) + list(qemu_options)
    if extra:
        cmd.append("--qemu-opts=" + " ".join(extra))
    return cmd + ["--", f"sh {script_path}"]


def run_in_vm(script, disks, workdir, env=None, timeout=1800, memory="2G", cpu=None):
    """Run shell SCRIPT in a VM with DISKS (files; /dev/vda, /dev/vdb, ...).

    ENV values are exported at the top of the script; MEMORY is the VM's RAM
    and CPU its qemu CPU model (see vng_command).
    Returns the completed process; the VM's console output is in its stdout.

    One such VM at a time, across test workers (a lock): a virtme-ng VM keeps
    both cores busy (two vCPUs and its 9p server), and two at once were each
    two to three times slower. TIMEOUT counts from the VM's start.
    """
    with build_lock("virtme-vm"), start_vm(script, disks, workdir, env, memory,
                                           cpu) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            raise subprocess.TimeoutExpired(process.args, timeout, output) from None
    return subprocess.CompletedProcess(process.args, process.returncode, output)


def start_vm(script, disks, workdir, env=None, memory="2G", cpu=None, qemu_options=(),
             console=subprocess.PIPE):
    """Start shell SCRIPT in a VM as run_in_vm does, but return the running Popen.

    For tests that talk to the guest while it runs (vmports.py); its console
    goes to CONSOLE (a pipe by default).
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
    return subprocess.Popen(vng_command(script_path, disks, workdir, memory, cpu, qemu_options),
                            stdout=console, stderr=subprocess.STDOUT, text=True, env=env)


def sparse_disk(path, size):
    """Create a sparse disk file of SIZE bytes at PATH."""
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path
