"""Asking xorriso about an ISO, copying single files out, writing a new one.

Everything we need to know about an input ISO - its label, its file list, how
it boots - comes from one xorriso run, so a remaster reads the directory tree
once and extracts only the handful of small files it edits; the new ISO is
written by one more xorriso run, streamed through this process.
"""

import fcntl
import os
import re
import shlex
import subprocess
import threading
from dataclasses import dataclass, field

from org_ovirt_node.errors import NodeError
from org_ovirt_node.iso import streamcopy
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


PIPE_SIZE = 1 << 20   # Linux's default pipe-max-size; fewer wake-ups than 64 KiB
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Python 3.10 names it


def write(indev, args, output, reporter, step, total, media_sum=None):
    """Have xorriso write the ISO made of INDEV and ARGS into the new file OUTPUT.

    xorriso writes into a pipe that streamcopy moves into OUTPUT, so the
    media check sum sees every byte as it lands (MEDIA_SUM: isomd5.ReadBehind,
    called with OUTPUT's fd, or None) and its 512 bytes go into the PVD at the
    end - the image is not read back after the write, as implantisomd5 would. A pipe also gets the plain mkisofs layout: on a
    regular file xorriso would reserve 64 KiB for adding sessions later.
    Progress is counted in bytes copied against TOTAL, the expected size.
    A failure becomes a NodeError with xorriso's own reason.
    """
    read_fd, write_fd = os.pipe()
    try:
        fcntl.fcntl(read_fd, F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass  # a lower pipe-max-size only costs wake-ups
    # -pacifier interval: how often xorriso looks whether the write is over (default 1 s)
    cmd = ["xorriso", "-no_rc", "-abort_on", "FAILURE", "-pacifier", "interval=0.1",
           "-indev", indev, "-outdev", f"stdio:/dev/fd/{write_fd}", *args]
    try:
        process = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True, pass_fds=(write_fd,),
                                   env={**os.environ, **_ENV})
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    problems = []
    listener = threading.Thread(target=_collect_problems, args=(process.stderr, problems))
    listener.start()
    try:
        # a new file: ext4 flushes a truncated-and-rewritten one on close (auto_da_alloc)
        out = os.open(output, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        summer = None
        try:
            summer = media_sum(out) if media_sum else None
            try:
                streamcopy.copy(read_fd, out, None,
                                lambda done: reporter.progress(step, done, total),
                                every=max(total // 100, 1),
                                written=summer.written if summer else None)
            except NodeError:
                if process.wait() == 0:
                    raise
                # else the stream was cut short: xorriso's reason tells why
            if process.wait() != 0:
                listener.join()
                reason = problems[-1] if problems else f"exit status {process.returncode}"
                raise NodeError(f"xorriso could not write the ISO: {reason}")
            if summer:
                summer.implant(out)
        finally:
            if summer:
                summer.close()
            os.close(out)
    finally:
        os.close(read_fd)
        if process.poll() is None:
            process.kill()
            process.wait()
        listener.join()
    reporter.progress(step, total, total)


def _collect_problems(stderr, problems):
    """Keep xorriso's FAILURE/SORRY/FATAL/ABORT lines (and drain its stderr)."""
    for line in stderr:
        if re.search(r": (FAILURE|SORRY|FATAL|ABORT) :", line):
            problems.append(line.split(":", 3)[-1].strip())
