"""Asking xorriso about an ISO and copying single files out of it.

Everything we need to know about an input ISO - its label, its file list, how
it boots - comes from one xorriso run, so a remaster reads the directory tree
once and extracts only the handful of small files it edits.
"""

import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field

from org_ovirt_node.errors import NodeError
from org_ovirt_node.util.run import run

SECTOR = 2048
_ENV = {"LC_ALL": "C"}
# An appended partition in the boot replay, e.g. the EL10 efiboot.img:
# -append_partition 2 <type> --interval:local_fs:29008d-32363d::'/in.iso'
_APPENDED = re.compile(r"^-append_partition (\d+) (\S+) --interval:local_fs:(\d+)d-(\d+)d::")


@dataclass
class AppendedPartition:
    """A partition stored after the ISO filesystem, in 512-byte blocks."""

    number: int
    type_id: str
    start: int
    end: int

    @property
    def offset(self):
        return self.start * 512

    @property
    def size(self):
        return (self.end - self.start + 1) * 512


@dataclass
class IsoInfo:
    """What a remaster needs to know about an ISO."""

    path: str
    volid: str
    files: set = field(default_factory=set)
    boot_replay: list = field(default_factory=list)
    system_area: str = ""

    @property
    def efi_partitions(self):
        """Appended partitions the EFI El Torito entry boots from (EL10, Fedora)."""
        parts = []
        for line in self.boot_replay:
            match = _APPENDED.match(line)
            if match:
                parts.append(AppendedPartition(int(match.group(1)), match.group(2),
                                               int(match.group(3)), int(match.group(4))))
        return parts

    @property
    def efi_image_path(self):
        """The ISO path of the El Torito EFI image when it is a file ('images/efiboot.img')."""
        for index, line in enumerate(self.boot_replay):
            if line == "-eltorito-alt-boot" and index + 1 < len(self.boot_replay):
                following = self.boot_replay[index + 1]
                if following.startswith("-e ") and not following.startswith("-e '--interval"):
                    return shlex.split(following)[1].lstrip("/")
        return None


def is_iso9660(path):
    """True when PATH carries an ISO 9660 primary volume descriptor."""
    try:
        with open(path, "rb") as stream:
            stream.seek(16 * SECTOR)
            return stream.read(6) == b"\x01CD001"
    except OSError:
        return False


def read_iso(path):
    """Read the label, file list and boot setup of the ISO at PATH."""
    if not is_iso9660(path):
        raise NodeError(f"{path} is not an ISO 9660 image")
    result = run(["xorriso", "-no_rc", "-indev", path, "-pkt_output", "on",
                  "-report_el_torito", "as_mkisofs", "-report_system_area", "plain",
                  "-find", "/", "-type", "f"], env=_ENV)
    volid, files, replay, summary = "", set(), [], ""
    for line in result.stderr.splitlines():
        if line.startswith("Volume id"):
            volid = shlex.split(line.split(":", 1)[1])[0]
    for line in result.stdout.splitlines():
        if not line.startswith("R:1: "):
            continue
        text = line[5:]
        if text.startswith("System area summary:"):
            summary = text.split(":", 1)[1].strip()
        elif text.startswith("-"):
            replay.append(text)
        elif text.startswith("'/") or text.startswith("/"):
            files.add(shlex.split(text)[0].lstrip("/"))
    if not volid:
        raise NodeError(f"{path} has no volume id; is it an ISO 9660 image?")
    return IsoInfo(path=path, volid=volid, files=files, boot_replay=replay,
                   system_area=summary)


def extract(iso, members, dest_dir):
    """Copy MEMBERS (ISO paths) of ISO into DEST_DIR, keeping their paths, writable."""
    if not members:
        return
    cmd = ["xorriso", "-no_rc", "-osirrox", "on", "-indev", iso]
    for member in sorted(members):
        cmd += ["-extract", f"/{member}", f"{dest_dir}/{member}"]
    run(cmd, env=_ENV)
    run(["chmod", "-R", "u+rw", dest_dir])


def copy_range(iso, offset, size, dest):
    """Copy SIZE bytes at OFFSET of ISO into the file DEST (an appended partition)."""
    with open(iso, "rb") as source, open(dest, "wb") as out:
        source.seek(offset)
        remaining = size
        while remaining:
            chunk = source.read(min(remaining, 1 << 20))
            if not chunk:
                raise NodeError(f"{iso} ends inside its appended partition")
            out.write(chunk)
            remaining -= len(chunk)


_WRITING = re.compile(r"Writing:\s+\d+s\s+([\d.]+)%")


def write(cmd, reporter, step, total):
    """Run the xorriso write command CMD, turning its pacifier into byte progress.

    xorriso reports percent done once a second; TOTAL (the expected size in
    bytes) turns that into the byte counts every reporter shows. A failure
    becomes a NodeError with xorriso's own reason.
    """
    process = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **_ENV})
    problems = []
    for line in process.stderr:
        match = _WRITING.search(line)
        if match:
            reporter.progress(step, min(total, int(total * float(match.group(1)) / 100)), total)
        elif re.search(r": (FAILURE|SORRY|FATAL|ABORT) :", line):
            problems.append(line.split(":", 3)[-1].strip())
    if process.wait() != 0:
        reason = problems[-1] if problems else f"exit status {process.returncode}"
        raise NodeError(f"xorriso could not write the ISO: {reason}")
    reporter.progress(step, total, total)
