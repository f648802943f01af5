"""Asking xorriso about an ISO, copying single files out, writing a new one.

Everything we need to know about an input ISO - its label, its file list, how
it boots - comes from one xorriso run, so a remaster reads the directory tree
once and extracts only the handful of small files it edits; the new ISO is
the input's volume, copied by the kernel, plus one session that one more
xorriso run adds to it (grow).
"""

import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field

from org_ovirt_node.errors import NodeError
from org_ovirt_node.iso import isomd5
from org_ovirt_node.util import safeio
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
        with safeio.open_input(path, "ISO") as stream:
            stream.seek(16 * SECTOR)
            return stream.read(6) == b"\x01CD001"
    except OSError:
        return False


def read_iso(path):
    """Read the label, file list and boot setup of the ISO at PATH."""
    safeio.check_input_file(path, "ISO")
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


COPY_CHUNK = 64 << 20      # bytes per copy_file_range call: a progress step each


def volume_bytes(path):
    """The size of PATH's ISO 9660 volume (its PVD's volume space size), in bytes:
    the field implantisomd5 reads (isomd5.SIZE_FIELD)."""
    with safeio.open_input(path, "ISO") as stream:
        stream.seek(isomd5.SIZE_FIELD)
        return int.from_bytes(stream.read(4), "big") * SECTOR


def grow(indev, args, output, reporter, step, media_sum=None, sum_step=None):
    """Write the new file OUTPUT: INDEV's volume plus one session xorriso adds with ARGS.

    Why this way: a remaster changes a few small files of a large ISO. The
    input's volume is copied by the kernel (copy_file_range: page cache to
    page cache, or a reflink where the filesystem shares extents), then
    xorriso, on OUTPUT as its drive, writes only what changed - the new
    files, the directory tree, the boot records (replayed), the appended
    partitions - after the old volume, and the new volume descriptors at
    its start; the old tree stays unreferenced. No byte of the payload
    passes through xorriso, a pipe or this process, so the whole costs about
    what `cp` does, plus the media check sum (MEDIA_SUM: isomd5.ReadBehind,
    called with OUTPUT's fd, or None), which reads the finished file once
    from the page cache, as `implantisomd5` would, and is implanted in the
    PVD. Appended partitions after the input's volume are not copied: the
    remaster appends its own. Progress: bytes copied, in STEP; the sum is
    step SUM_STEP ((name, message)) of its own.
    A failure becomes a NodeError with xorriso's own reason.
    """
    size = volume_bytes(indev)
    out = os.open(output, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    summer = None
    try:
        with safeio.open_input(indev, "ISO") as source:
            _copy(source.fileno(), out, size, lambda done: reporter.progress(step, done, size))
        _xorriso_grow(output, args)
        _trim(out, output)
        if media_sum:
            if sum_step:
                reporter.step(*sum_step)
            summer = media_sum(out)
            summer.written(os.fstat(out).st_size)
            summer.implant(out)
    finally:
        if summer:
            summer.close()
        os.close(out)


def _copy(source, out, size, progress):
    """Copy SIZE bytes from fd SOURCE to fd OUT by the kernel, reporting PROGRESS."""
    done = 0
    while done < size:
        count = min(COPY_CHUNK, size - done)
        try:
            moved = os.copy_file_range(source, out, count, done, done)
        except OSError:      # another filesystem or kernel without it: plain copy
            moved = _read_write(source, out, count, done)
        if moved <= 0:
            raise NodeError(f"the ISO ends at {done} bytes, before its volume size {size}")
        done += moved
        progress(done)


def _read_write(source, out, count, offset):
    data = os.pread(source, count, offset)
    view = memoryview(data)
    written = 0
    while written < len(view):
        written += os.pwrite(out, view[written:], offset + written)
    return len(data)


def _trim(out, output):
    """Cut what xorriso wrote past the image's end (alignment, padding) off OUTPUT.

    Why: the system area's GPT puts its secondary header in the image's last
    sector, which must be the file's last, as on an ISO written fresh
    (`sgdisk -v` finds the ISO sound, and so does firmware that checks).
    """
    report = run(["xorriso", "-no_rc", "-indev", f"stdio:{output}", "-report_system_area",
                  "plain"], env=_ENV).stdout
    for line in report.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "ISO image size/512" and value.strip().isdigit():
            end = int(value) * 512
            if os.fstat(out).st_size > end:
                os.ftruncate(out, end)


def _xorriso_grow(output, args):
    # -pacifier interval: how often xorriso looks whether the write is over
    # (default 1 s); -stdio_sync off: the writeback is the caller's (and the
    # kernel's), not a flush every 32 MiB
    cmd = ["xorriso", "-no_rc", "-abort_on", "FAILURE", "-pacifier", "interval=0.1",
           "-stdio_sync", "off", "-dev", f"stdio:{output}", *args, "-commit"]
    process = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, **_ENV})
    problems = []
    _collect_problems(process.stderr, problems)
    if process.wait() != 0:
        reason = problems[-1] if problems else f"exit status {process.returncode}"
        raise NodeError(f"xorriso could not write the ISO: {reason}")


def _collect_problems(stderr, problems):
    """Keep xorriso's FAILURE/SORRY/FATAL/ABORT lines (and drain its stderr)."""
    for line in stderr:
        if re.search(r": (FAILURE|SORRY|FATAL|ABORT) :", line):
            problems.append(line.split(":", 3)[-1].strip())
