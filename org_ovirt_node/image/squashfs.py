"""Squashfs files: telling them apart from other files, and making them.

The superblock is read directly (96 bytes), so "not a squashfs" and
"truncated" are told apart before anything is mounted, each with its own
message. Images are written by `mksquashfs` with the settings measured in the
reference (zstd level 15 or xz with the x86 BCJ filter, 1 MiB blocks).
"""

import os
import re
import struct
import subprocess
from dataclasses import dataclass

from org_ovirt_node.errors import NodeError
from org_ovirt_node.util import safeio
from org_ovirt_node.sizes import format_size
from org_ovirt_node.util.run import require_tool

MAGIC = 0x73717368  # "hsqs" little-endian
SUPERBLOCK = struct.Struct("<IIIIIHHHHHHQQ")  # up to and including bytes_used
COMPRESSORS = {1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}
EXT_MAGIC_OFFSET = 1080  # where an ext2/3/4 superblock keeps 0xEF53

# What `--compression` accepts, and the mksquashfs options each one means.
COMPRESSION_OPTIONS = {
    "zstd": ["-comp", "zstd", "-Xcompression-level", "15", "-b", "1M"],
    "xz": ["-comp", "xz", "-Xbcj", "x86", "-b", "1M"],
}
DEFAULT_COMPRESSION = "zstd"

_PROGRESS = re.compile(r"\]\s+(\d+)/(\d+)\s+(\d+)%")


@dataclass
class Superblock:
    """The parts of a squashfs superblock we need."""

    compression: str
    block_size: int
    bytes_used: int
    inode_count: int


def read_superblock(path):
    """Return PATH's squashfs Superblock, or raise NodeError saying what PATH is."""
    try:
        with safeio.open_input(path, "image") as stream:
            head = stream.read(4096)
            size = os.fstat(stream.fileno()).st_size
    except FileNotFoundError:
        raise NodeError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise NodeError(f"{path}: is a directory, not an image file") from None
    except OSError as error:
        raise NodeError(f"{path}: cannot read: {error.strerror}") from None
    if len(head) < 4 or struct.unpack_from("<I", head)[0] != MAGIC:
        raise NodeError(f"{path}: not a squashfs image{_what_else(head)}")
    if len(head) < SUPERBLOCK.size:
        raise NodeError(f"{path}: truncated squashfs image ({size} bytes, "
                        "shorter than its superblock)")
    fields = SUPERBLOCK.unpack_from(head)
    inode_count, block_size, comp_id, bytes_used = fields[1], fields[3], fields[5], fields[12]
    if size < bytes_used:
        raise NodeError(f"{path}: truncated squashfs image ({size} of "
                        f"{bytes_used} bytes; {format_size(bytes_used - size)} missing)")
    return Superblock(compression=COMPRESSORS.get(comp_id, f"unknown({comp_id})"),
                      block_size=block_size, bytes_used=bytes_used,
                      inode_count=inode_count)


def _what_else(head):
    """A hint for a file that is not a squashfs, when it is something common."""
    if len(head) >= EXT_MAGIC_OFFSET + 2 and \
            struct.unpack_from("<H", head, EXT_MAGIC_OFFSET)[0] == 0xEF53:
        return " (it is an ext2/3/4 filesystem; a node image is a squashfs " \
               "holding it as LiveOS/rootfs.img, see `ovirt-node image build`)"
    if head.startswith(b"\x1f\x8b") or head.startswith(b"\xfd7zXZ"):
        return " (it is a compressed file)"
    if not head:
        return " (the file is empty)"
    return ""


def make_squashfs(source, output, compression=DEFAULT_COMPRESSION, reporter=None,
                  step="squashfs", total_bytes=0, all_root=False):
    """Write directory SOURCE as squashfs OUTPUT, replacing it.

    mksquashfs' progress bar (blocks done of all) is turned into byte progress
    on REPORTER, scaled to TOTAL_BYTES. SOURCE_DATE_EPOCH in the environment
    is honoured by mksquashfs itself (creation time, clamped file times).
    """
    if compression not in COMPRESSION_OPTIONS:
        raise NodeError(f"unknown compression '{compression}' "
                        f"(use {' or '.join(COMPRESSION_OPTIONS)})")
    tool = require_tool("mksquashfs", "squashfs-tools")
    cmd = [tool, str(source), str(output), "-noappend",
           *COMPRESSION_OPTIONS[compression], "-quiet"]
    if all_root:
        # Our own wrapper content (LiveOS/rootfs.img): root-owned, no xattrs,
        # whoever builds it. Plain trees keep their owners and xattrs.
        cmd += ["-all-root", "-no-xattrs"]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, close_fds=True)
    messages = []
    pending = b""
    while True:
        chunk = process.stdout.read1(4096)
        if not chunk:
            break
        pending += chunk
        *pieces, pending = re.split(rb"[\r\n]", pending)
        for piece in pieces:
            text = piece.decode("utf-8", "replace").strip()
            match = _PROGRESS.search(text)
            if match:
                done, total = int(match.group(1)), int(match.group(2))
                if reporter and total:
                    reporter.progress(step, total_bytes * done // total, total_bytes)
            elif text:
                messages.append(text)
    if process.wait() != 0:
        last = messages[-1] if messages else f"exit status {process.returncode}"
        raise NodeError(f"mksquashfs failed writing {output}: {last}")
