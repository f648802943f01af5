"""Squashfs files: telling them apart from other files, and making them.

The superblock is read directly (96 bytes), so "not a squashfs" and
"truncated" are told apart before anything is mounted, each with its own
message. Images are written by `mksquashfs` with the settings measured in the
reference (zstd level 15 or xz with the x86 BCJ filter, 1 MiB blocks).
"""

import ctypes
import ctypes.util
import lzma
import os
import re
import struct
import subprocess
import zlib
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


# --- reading one file's data blocks, decompressed on any thread -----------------
#
# The kernel decompresses a squashfs on the reading thread, and a kernel built
# with one decompressor per filesystem (SQUASHFS_DECOMP_SINGLE) serialises all
# readers on it. FileBlocks reads a regular file's blocks out of the image file
# itself and decompresses them with zlib, lzma or libzstd, each of which lets
# go of the GIL: threads reading different blocks decompress on every core.

_FLAG_UNCOMPRESSED_INODES = 0x1
_FLAG_COMPRESSOR_OPTIONS = 0x400
_METADATA_BLOCK = 8192
_BLOCK_UNCOMPRESSED = 1 << 24
_NO_FRAGMENT = 0xFFFFFFFF
_INODE_DIR, _INODE_FILE, _INODE_LDIR, _INODE_LFILE = 1, 2, 8, 9


class _Zstd:
    """ZSTD_decompress from libzstd (ctypes calls run without the GIL)."""

    def __init__(self):
        name = ctypes.util.find_library("zstd") or "libzstd.so.1"
        lib = ctypes.CDLL(name)
        lib.ZSTD_decompress.restype = ctypes.c_size_t
        lib.ZSTD_decompress.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p,
                                        ctypes.c_size_t]
        lib.ZSTD_isError.restype = ctypes.c_uint
        lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
        self.lib = lib

    def __call__(self, data, out, size):
        """Decompress DATA into the writable buffer OUT (SIZE bytes at most); return the count."""
        target = (ctypes.c_char * size).from_buffer(out)
        try:
            count = self.lib.ZSTD_decompress(target, size, data, len(data))
        finally:
            del target
        if self.lib.ZSTD_isError(count):
            raise _CorruptBlock()
        return count


class _CorruptBlock(Exception):
    """A data block that does not decompress to at most a block (read_into names it)."""


def _python_decompressor(function):
    def decompress(data, out, size):
        plain = function(data)
        if len(plain) > size:
            raise _CorruptBlock()
        out[:len(plain)] = plain
        return len(plain)
    return decompress


def _decompressor(name):
    """A decompress(data, out, size) for COMPRESSION NAME, or None if not read here."""
    if name == "gzip":
        return _python_decompressor(zlib.decompress)
    if name == "xz":
        return _python_decompressor(lambda data: lzma.decompress(data, lzma.FORMAT_XZ))
    if name == "zstd":
        try:
            return _Zstd()
        except (OSError, AttributeError):
            return None
    return None


class FileBlocks:
    """A regular file inside squashfs IMAGE, read block by block without mounting.

    `read_into(offset, size, out)` fills OUT with the file's bytes; OFFSET is
    a multiple of the block size. Only the file's full blocks are read here;
    a tail packed into a fragment is left to the caller (`tail_offset`).
    Use `open_file(image, path)`, which returns None when the image's
    compressor is not one read here.
    """

    def __init__(self, image, superblock, start, file_size, sizes, tail_offset):
        self.image = image
        self.block_size = superblock.block_size
        self.file_size = file_size
        self.tail_offset = tail_offset     # bytes from here on are in a fragment
        self.decompress = _decompressor(superblock.compression)
        self.positions = []
        position = start
        for size in sizes:
            self.positions.append((position, size))
            position += size & ~_BLOCK_UNCOMPRESSED
        self.fd = os.open(image, os.O_RDONLY | os.O_CLOEXEC)

    def close(self):
        os.close(self.fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def read_into(self, offset, size, out):
        """Put the SIZE bytes at OFFSET of the file into OUT (a writable buffer)."""
        if offset % self.block_size or offset + size > self.tail_offset:
            raise ValueError("read_into: outside the file's full blocks")
        with memoryview(out) as view:
            done = 0
            while done < size:
                index = (offset + done) // self.block_size
                want = min(self.block_size, size - done)
                position, stored = self.positions[index]
                length = stored & ~_BLOCK_UNCOMPRESSED
                expect = min(self.block_size, self.file_size - index * self.block_size)
                with view[done:done + expect] as piece:
                    if length == 0:                      # a sparse block: zeros
                        piece[:] = bytes(expect)
                    else:
                        data = os.pread(self.fd, length, position)
                        if len(data) != length:
                            raise NodeError(f"{self.image}: truncated data block")
                        if stored & _BLOCK_UNCOMPRESSED:
                            piece[:length] = data
                            count = length
                        else:
                            try:
                                count = self.decompress(data, piece, expect)
                            except (_CorruptBlock, zlib.error, lzma.LZMAError):
                                raise NodeError(f"{self.image}: the data block at byte "
                                                f"{position} does not decompress (corrupt "
                                                "image?)") from None
                        if count != expect:
                            raise NodeError(f"{self.image}: a data block holds {count} "
                                            f"bytes, not {expect} (corrupt image?)")
                done += want


def open_file(image, path):
    """FileBlocks of regular file PATH (like 'LiveOS/rootfs.img') in squashfs IMAGE.

    None when the image's compressor is not one read here (lzo, lz4, lzma)
    or PATH is not a regular file in it; NodeError when the image is corrupt.
    """
    superblock = read_superblock(image)
    if _decompressor(superblock.compression) is None:
        return None
    with open(image, "rb") as stream:
        head = stream.read(96)
        tables = _Tables(stream, superblock, head)
        inode = tables.root
        for name in path.strip("/").split("/"):
            inode = tables.lookup(inode, name)
            if inode is None:
                return None
        if inode["type"] not in (_INODE_FILE, _INODE_LFILE):
            return None
        return FileBlocks(image, superblock, inode["start"], inode["size"], inode["sizes"],
                          inode["tail_offset"])


class _Tables:
    """The inode and directory tables of an open squashfs STREAM."""

    def __init__(self, stream, superblock, head):
        self.stream = stream
        self.block_size = superblock.block_size
        self.decompress = _decompressor(superblock.compression)
        (self.root_ref, _, _, _, self.inode_start, self.dir_start,
         self.fragment_start, _) = struct.unpack_from("<QQQQQQQQ", head, 32)
        self.cache = {}
        self.root = self.inode(self.root_ref)

    def metadata(self, table, offset, size):
        """SIZE bytes of the metadata table at TABLE, from byte OFFSET of its
        uncompressed content, where OFFSET = (block position << 16) | in-block offset."""
        block, within = offset >> 16, offset & 0xFFFF
        data = bytearray()
        while len(data) < within + size:
            plain, stored = self._metadata_block(table + block)
            data += plain
            block += stored
        return bytes(data[within:within + size])

    def _metadata_block(self, position):
        if position not in self.cache:
            self.stream.seek(position)
            header = struct.unpack("<H", self.stream.read(2))[0]
            length = header & 0x7FFF
            raw = self.stream.read(length)
            if header & 0x8000:
                plain = raw
            else:
                out = bytearray(_METADATA_BLOCK)
                plain = bytes(out[:self.decompress(raw, out, _METADATA_BLOCK)])
            self.cache[position] = (plain, 2 + length)
        return self.cache[position]

    def inode(self, ref):
        """The inode REF points at, as a dict."""
        head = self.metadata(self.inode_start, ref, 16 + 40)
        kind = struct.unpack_from("<H", head)[0]
        if kind == _INODE_DIR:
            block, _, size, offset, _ = struct.unpack_from("<IIHHI", head, 16)
            return {"type": kind, "block": block, "offset": offset, "size": size}
        if kind == _INODE_LDIR:
            _, size, block, _, _, offset = struct.unpack_from("<IIIIHH", head, 16)
            return {"type": kind, "block": block, "offset": offset, "size": size}
        if kind == _INODE_FILE:
            start, fragment, _, size = struct.unpack_from("<IIII", head, 16)
            fixed = 32
        elif kind == _INODE_LFILE:
            start, size, _, _, fragment, _, _ = struct.unpack_from("<QQQIIII", head, 16)
            fixed = 56
        else:
            return {"type": kind}
        if fragment == _NO_FRAGMENT:
            count = -(-size // self.block_size)
            tail_offset = size
        else:
            count = size // self.block_size
            tail_offset = count * self.block_size
        raw = self.metadata(self.inode_start, ref + fixed, 4 * count) if count else b""
        sizes = struct.unpack(f"<{count}I", raw)
        return {"type": kind, "start": start, "size": size, "sizes": sizes,
                "tail_offset": tail_offset}

    def lookup(self, directory, name):
        """The inode of NAME in DIRECTORY (an inode dict), or None."""
        if directory["type"] not in (_INODE_DIR, _INODE_LDIR) or directory["size"] <= 3:
            return None
        listing = self.metadata(self.dir_start, (directory["block"] << 16) | directory["offset"],
                                directory["size"] - 3)
        wanted = name.encode()
        position = 0
        while position + 12 <= len(listing):
            count, start, _ = struct.unpack_from("<III", listing, position)
            position += 12
            for _ in range(count + 1):
                offset, _, _, name_size = struct.unpack_from("<HhHH", listing, position)
                entry = listing[position + 8:position + 9 + name_size]
                position += 9 + name_size
                if entry == wanted:
                    return self.inode((start << 16) | offset)
        return None
