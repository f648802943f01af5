"""Booting an ISO in qemu the three ways users do, and reading what the probe saw.

BIOS from CD (SeaBIOS), UEFI from CD (Debian's OVMF) and UEFI from a USB
stick (the hybrid GPT; the case mkksiso users reported broken). qemu runs
with TCG and no network at all. The stock ISO's initrd is the probe from
stock_iso: it prints /proc/cmdline and the sha256 of the files on the medium
it found by label, between PROBE: markers on the serial console.
"""

import os
import shutil
import subprocess
from dataclasses import dataclass, field

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS.fd"
MODES = ("bios-cd", "uefi-cd", "uefi-usb")


@dataclass
class ProbeResult:
    """What the probe printed: the kernel command line, the device, file checksums."""

    cmdline: str = ""
    device: str = ""
    sha256: dict = field(default_factory=dict)
    finished: bool = False
    log: str = ""


def can_boot():
    """None when qemu and OVMF are here, else the reason to skip."""
    if not shutil.which("qemu-system-x86_64"):
        return "qemu-system-x86_64 missing (qemu-system-x86)"
    if not os.path.exists(OVMF_CODE):
        return "OVMF missing (ovmf)"
    return None


def qemu_command(iso, mode, workdir):
    """The qemu command line that boots ISO in MODE."""
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-nographic", "-no-reboot",
           "-nic", "none", "-m", "768", "-machine", "pc"]
    if mode.startswith("uefi"):
        vars_copy = os.path.join(workdir, f"OVMF_VARS-{mode}.fd")
        shutil.copy(OVMF_VARS, vars_copy)
        cmd += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                "-drive", f"if=pflash,format=raw,file={vars_copy}"]
    if mode.endswith("cd"):
        cmd += ["-drive", f"file={iso},media=cdrom,readonly=on,format=raw", "-boot", "d"]
    else:
        cmd += ["-drive", f"if=none,id=stick,file={iso},format=raw,readonly=on",
                "-device", "qemu-xhci", "-device", "usb-storage,drive=stick,removable=on"]
    return cmd


def parse(log):
    """Turn the serial log into a ProbeResult."""
    result = ProbeResult(log=log)
    for raw in log.splitlines():
        line = raw.strip("\r\n ")
        index = line.find("PROBE:")
        if index < 0:
            continue
        kind, _, value = line[index + 6:].partition(":")
        if kind == "CMDLINE":
            result.cmdline = value
        elif kind == "DEVICE":
            result.device = value
        elif kind == "SHA256":
            digest, _, path = value.partition("  ")
            result.sha256[os.path.basename(path)] = digest
        elif kind == "END":
            result.finished = True
    return result


def boot(iso, mode, workdir, timeout=300):
    """Boot ISO in MODE and return what the probe printed."""
    cmd = qemu_command(iso, mode, workdir)
    try:
        completed = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=timeout)
        log = completed.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as expired:
        log = (expired.stdout or b"").decode(errors="replace") + "\n[timeout]"
    with open(os.path.join(workdir, f"serial-{mode}.log"), "w") as stream:
        stream.write(log)
    return parse(log)
