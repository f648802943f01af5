"""The ext4 root filesystem image (`LiveOS/rootfs.img`).

`mke2fs -d` copies a tree into a new ext4 without mounting anything and keeps
owners, modes, hard links, symlinks, xattrs (ACLs included), device nodes and
holes. The image is sized from the tree with headroom; the installer grows it
to the LV afterwards. Files the build adds (the NVR) are written with
`debugfs`, so the caller's tree is never touched.

Reproducibility: with an epoch given, the UUID and directory hash seed are
derived from NVR and epoch, mke2fs runs with E2FSPROGS_FAKE_TIME, and every
inode's atime and ctime are set to its mtime (mke2fs copies them from the
source tree, where reading and building change them).
"""

import math
import os
import re
import stat
import tempfile
import uuid
from dataclasses import dataclass

from org_ovirt_node.errors import NodeError
from org_ovirt_node.sizes import MiB
from org_ovirt_node.util.run import output, require_tool, run

BLOCK_SIZE = 4096
INODE_SIZE = 256
INODE_RATIO = 16384      # mke2fs' default bytes per inode for ext4
HEADROOM = 0.15          # free space left in the image beyond the tree
EXTRA_SPACE = 32 * MiB   # plus this, so tiny trees still get room to work in
MIN_SIZE = 64 * MiB
RESERVED = 0.05          # mke2fs' default root-reserved blocks
_UUID_NAMESPACE = uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")
_BANNER = re.compile(r"^debugfs \d")


@dataclass
class TreeSize:
    """What a tree needs in ext4: inodes and bytes of data/metadata blocks."""

    inodes: int
    data_bytes: int


def _blocks(nbytes):
    return -(-nbytes // BLOCK_SIZE) * BLOCK_SIZE


def measure_tree(rootdir):
    """Count inodes and block bytes ROOTDIR will take in ext4.

    Raises NodeError if a mount point is inside ROOTDIR: mke2fs would copy
    the mounted filesystem (a leftover /proc, say) into the image.
    """
    top = os.lstat(rootdir)
    seen = set()
    inodes = 1
    data = BLOCK_SIZE
    stack = [rootdir]
    while stack:
        directory = stack.pop()
        entry_bytes = 24
        with os.scandir(directory) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                entry_bytes += 8 + ((len(os.fsencode(entry.name)) + 3) & ~3)
                if info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode):
                    if (info.st_dev, info.st_ino) in seen:
                        continue
                    seen.add((info.st_dev, info.st_ino))
                inodes += 1
                if stat.S_ISDIR(info.st_mode):
                    if info.st_dev != top.st_dev:
                        rel = os.path.relpath(entry.path, rootdir)
                        raise NodeError(f"{rootdir}: /{rel} is a mount point; unmount it "
                                        "first (it would be copied into the image)")
                    stack.append(entry.path)
                elif stat.S_ISREG(info.st_mode):
                    # Holes stay holes (mke2fs -d keeps them); a compressing source
                    # filesystem can make this too small: make_ext4 then grows.
                    data += _blocks(min(info.st_size, info.st_blocks * 512))
                elif stat.S_ISLNK(info.st_mode) and info.st_size >= 60:
                    data += BLOCK_SIZE
                if _xattr_bytes(entry.path) > 96:
                    data += BLOCK_SIZE
        data += _blocks(math.ceil(entry_bytes * 1.2))
    return TreeSize(inodes=inodes, data_bytes=data)


def _xattr_bytes(path):
    """Bytes of extended attributes on PATH (names and values), 0 if none."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return 0
    total = 0
    for name in names:
        try:
            total += len(name) + 16 + len(os.getxattr(path, name, follow_symlinks=False))
        except OSError:
            pass
    return total


def _journal_bytes(size):
    """The journal mke2fs creates for a SIZE-byte ext4 (ext2fs_default_journal_size)."""
    blocks = size // BLOCK_SIZE
    for limit, journal in ((32768, 1024), (256 * 1024, 4096), (512 * 1024, 8192),
                           (4096 * 1024, 16384), (8192 * 1024, 32768)):
        if blocks < limit:
            return journal * BLOCK_SIZE
    return 65536 * BLOCK_SIZE


def plan_size(tree):
    """Return (bytes, inode count) for an ext4 holding TREE with headroom."""
    inodes = tree.inodes + tree.inodes // 4 + 256
    needed = tree.data_bytes + inodes * INODE_SIZE
    size = int(needed * (1 + HEADROOM) / (1 - RESERVED)) + EXTRA_SPACE
    size = max(size, MIN_SIZE)
    size += _journal_bytes(size)
    # At least mke2fs' usual inode density, so the grown filesystem has enough.
    inodes = max(inodes, size // INODE_RATIO)
    return -(-size // MiB) * MiB, inodes


def ids_for(nvr, epoch):
    """The filesystem UUID and directory hash seed for NVR built at EPOCH."""
    return (str(uuid.uuid5(_UUID_NAMESPACE, f"{nvr}@{epoch}:uuid")),
            str(uuid.uuid5(_UUID_NAMESPACE, f"{nvr}@{epoch}:hash_seed")))


def _mke2fs_version():
    text = run([require_tool("mke2fs", "e2fsprogs"), "-V"], check=False).stderr
    match = re.search(r"mke2fs (\d+)\.(\d+)", text or "")
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def make_ext4(rootdir, image, size, inodes, nvr, epoch=None):
    """Create ext4 IMAGE of SIZE bytes from ROOTDIR; grow and retry if it is too small.

    Returns the size finally used.
    """
    tool = require_tool("mke2fs", "e2fsprogs")
    extended = ["nodiscard"]
    cmd_ids = []
    env = _clock(epoch)
    if epoch is not None:
        fs_uuid, hash_seed = ids_for(nvr, epoch)
        cmd_ids = ["-U", fs_uuid]
        extended.append(f"hash_seed={hash_seed}")
    # orphan_file (e2fsprogs 1.47) is unknown to EL8/EL9 kernels and e2fsck.
    features = ["-O", "^orphan_file"] if _mke2fs_version() >= (1, 47) else []
    for _attempt in range(4):
        if os.path.exists(image):
            os.unlink(image)
        cmd = [tool, "-q", "-F", "-t", "ext4", "-b", str(BLOCK_SIZE), "-I", str(INODE_SIZE),
               "-N", str(inodes), "-m", str(int(RESERVED * 100)), *features, *cmd_ids,
               "-E", ",".join(extended), "-d", rootdir, image, f"{size // 1024}k"]
        result = run(cmd, check=False, env=env)
        if result.returncode == 0:
            return size
        detail = (result.stderr or result.stdout or "").strip()
        if "allocate" not in detail and "No space" not in detail:
            last = detail.splitlines()[-1] if detail else f"exit status {result.returncode}"
            raise NodeError(f"mke2fs failed copying {rootdir} into ext4: {last}")
        size = -(-(size * 3 // 2) // MiB) * MiB
        inodes = inodes * 3 // 2
    raise NodeError(f"mke2fs ran out of space copying {rootdir} even at {size} bytes")


def _clock(epoch):
    """Environment that makes e2fsprogs stamp EPOCH instead of now (if given)."""
    return {"E2FSPROGS_FAKE_TIME": str(epoch)} if epoch is not None else {}


def debugfs_script(image, commands, epoch=None):
    """Run debugfs COMMANDS (a list of lines) writably on IMAGE.

    debugfs exits 0 even when a command fails, so any stderr line besides its
    banner is taken as the error.
    """
    tool = require_tool("debugfs", "e2fsprogs")
    with tempfile.NamedTemporaryFile("w", prefix="ovirt-node-debugfs-", suffix=".cmd") as script:
        script.write("\n".join(commands) + "\n")
        script.flush()
        result = run([tool, "-w", "-f", script.name, image], check=False,
                     env=_clock(epoch))
    errors = [line for line in (result.stderr or "").splitlines()
              if line.strip() and not _BANNER.match(line)]
    if result.returncode != 0 or errors:
        last = errors[-1] if errors else f"exit status {result.returncode}"
        raise NodeError(f"debugfs failed editing {image}: {last}")


def _quote(name):
    """NAME as one debugfs argument."""
    if re.fullmatch(r"[A-Za-z0-9_.+@%=:,-]+", name):
        return name
    if '"' in name or "\n" in name:
        raise NodeError(f"cannot write a path component {name!r} with debugfs")
    return f'"{name}"'


def add_file(image, rootdir, relpath, content, mtime, epoch=None):
    """Write CONTENT as /RELPATH into IMAGE (root-owned, 0644, dirs 0755).

    ROOTDIR is the tree IMAGE was made from; it tells which parent directories
    already exist. An existing file at RELPATH is replaced.
    """
    parts = relpath.strip("/").split("/")
    commands = ["cd /"]
    here = rootdir
    for part in parts[:-1]:
        here = os.path.join(here, part)
        if os.path.islink(here) or (os.path.exists(here) and not os.path.isdir(here)):
            raise NodeError(f"{rootdir}: /{os.path.relpath(here, rootdir)} must be a "
                            "directory to hold the image NVR")
        if not os.path.isdir(here):
            commands += [f"mkdir {_quote(part)}", *_owned(part, 0o40755, mtime)]
        commands.append(f"cd {_quote(part)}")
    name = _quote(parts[-1])
    target = os.path.join(rootdir, *parts)
    if os.path.lexists(target):
        if os.path.isdir(target) and not os.path.islink(target):
            raise NodeError(f"{rootdir}: /{relpath} is a directory, not a file")
        commands.append(f"rm {name}")
    with tempfile.NamedTemporaryFile("wb", prefix="ovirt-node-file-") as local:
        local.write(content)
        local.flush()
        commands += [f"write {local.name} {name}", *_owned(name, 0o100644, mtime)]
        debugfs_script(image, commands, epoch)


def _owned(name, mode, mtime):
    """debugfs commands giving NAME root ownership, MODE and all times MTIME."""
    return [f"sif {name} mode 0{mode:o}", f"sif {name} uid 0", f"sif {name} gid 0",
            *(f"sif {name} {field} @{mtime}" for field in ("atime", "ctime", "mtime", "crtime"))]


def settle_times(image, mountpoint_of, epoch=None):
    """Set every inode's atime and ctime to its mtime.

    MOUNTPOINT_OF is a context manager mounting IMAGE read-only; the walk
    there gives inode numbers and mtimes without trusting path quoting.
    """
    commands = []
    seen = set()
    with mountpoint_of(image) as root:
        for directory, dirs, files in os.walk(root):
            for name in [".", *dirs, *files]:
                info = os.lstat(os.path.join(directory, name))
                if info.st_ino in seen:
                    continue
                seen.add(info.st_ino)
                mtime = int(info.st_mtime)
                commands += [f"sif <{info.st_ino}> atime @{mtime}",
                             f"sif <{info.st_ino}> ctime @{mtime}"]
    debugfs_script(image, commands, epoch)


def check_ext4(image):
    """Run a read-only e2fsck of IMAGE; NodeError if it finds anything."""
    tool = require_tool("e2fsck", "e2fsprogs")
    result = run([tool, "-fn", image], check=False)
    if result.returncode != 0:
        detail = (result.stdout or result.stderr or "").strip().splitlines()
        raise NodeError(f"the new ext4 image fails e2fsck: {detail[-1] if detail else ''}")


def ext4_sizes(image):
    """Return (filesystem bytes, used bytes) of ext4 IMAGE from its superblock."""
    text = output([require_tool("dumpe2fs", "e2fsprogs"), "-h", image])
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    try:
        block = int(fields["Block size"])
        count = int(fields["Block count"])
        free = int(fields["Free blocks"])
    except (KeyError, ValueError):
        raise NodeError(f"{image}: not a readable ext4 filesystem") from None
    return count * block, (count - free) * block


# --- which blocks hold data ---------------------------------------------------

SUPERBLOCK_OFFSET = 1024
EXT4_MAGIC = 0xEF53
_INCOMPAT_META_BG = 0x10
_INCOMPAT_64BIT = 0x80
_RO_COMPAT_SPARSE_SUPER = 0x1
_RO_COMPAT_BIGALLOC = 0x200
_COMPAT_SPARSE_SUPER2 = 0x200
_BG_BLOCK_UNINIT = 0x2


def used_extents(path):
    """The byte ranges of ext4 image PATH that its block bitmaps mark in use.

    Returns a sorted list of (offset, length), adjacent ranges merged, or None
    when PATH is not an ext4 this reader understands (no magic, bigalloc,
    meta_bg): the caller then copies every block. Metadata is in use even in
    a group whose bitmap was never initialised (BLOCK_UNINIT): the superblock
    and descriptor backups there, and every bitmap and inode table that lives
    there, as the kernel counts them. Only the image file is read: the
    superblock, the group descriptors and the block bitmaps.
    """
    with open(path, "rb", buffering=0) as handle:
        return _used_extents(handle.fileno(), os.fstat(handle.fileno()).st_size)


def _used_extents(fd, file_size):
    sb = os.pread(fd, 1024, SUPERBLOCK_OFFSET)
    if len(sb) < 1024 or int.from_bytes(sb[0x38:0x3A], "little") != EXT4_MAGIC:
        return None
    u32 = lambda data, at: int.from_bytes(data[at:at + 4], "little")  # noqa: E731
    u16 = lambda data, at: int.from_bytes(data[at:at + 2], "little")  # noqa: E731
    compat, incompat, ro_compat = u32(sb, 0x5C), u32(sb, 0x60), u32(sb, 0x64)
    if incompat & _INCOMPAT_META_BG or ro_compat & _RO_COMPAT_BIGALLOC:
        return None
    block = 1024 << u32(sb, 0x18)
    blocks = u32(sb, 0x04)
    if incompat & _INCOMPAT_64BIT:
        blocks |= u32(sb, 0x150) << 32
    first = u32(sb, 0x14)
    per_group = u32(sb, 0x20)
    inodes_per_group = u32(sb, 0x28)
    inode_size = u16(sb, 0x58) if u32(sb, 0x4C) >= 1 else 128
    desc_size = u16(sb, 0xFE) if incompat & _INCOMPAT_64BIT else 32
    reserved_gdt = u16(sb, 0xCE)
    if not per_group or blocks * block > file_size or desc_size < 32:
        return None
    groups = -(-(blocks - first) // per_group)
    gdt_blocks = -(-(groups * desc_size) // block)
    table = os.pread(fd, gdt_blocks * block, (first + 1) * block)
    if len(table) < groups * desc_size:
        return None
    itable_blocks = -(-(inodes_per_group * inode_size) // block)
    if compat & _COMPAT_SPARSE_SUPER2:
        backups = {0, u32(sb, 0x24C), u32(sb, 0x250)}
    elif ro_compat & _RO_COMPAT_SPARSE_SUPER:
        backups = None
    else:
        backups = set(range(groups))
    used = bytearray(b"0" * blocks)     # one character per block: b"1" in use
    metadata = [(0, first + 1)]         # boot block and the primary superblock
    for group in range(groups):
        desc = table[group * desc_size:(group + 1) * desc_size]
        bitmap, inode_bitmap, itable = u32(desc, 0x0), u32(desc, 0x4), u32(desc, 0x8)
        if desc_size >= 64:
            bitmap |= u32(desc, 0x20) << 32
            inode_bitmap |= u32(desc, 0x24) << 32
            itable |= u32(desc, 0x28) << 32
        metadata += [(bitmap, 1), (inode_bitmap, 1), (itable, itable_blocks)]
        start = first + group * per_group
        if backups is None and _has_backup(group) or backups is not None and group in backups:
            metadata.append((start, 1 + gdt_blocks + reserved_gdt))
        if u16(desc, 0x12) & _BG_BLOCK_UNINIT:
            continue
        count = min(per_group, blocks - start)
        bits = os.pread(fd, -(-count // 8), bitmap * block)
        if len(bits) < -(-count // 8):
            return None
        used[start:start + count] = b"".join(_BITS[byte] for byte in bits)[:count]
    for start, count in metadata:
        start, end = max(start, 0), min(start + count, blocks)
        if end > start:
            used[start:end] = b"1" * (end - start)
    return [(match.start() * block, (match.end() - match.start()) * block)
            for match in re.finditer(rb"1+", used)]


# Each byte of a bitmap as its 8 bits, lowest first (block order), as b"0"/b"1".
_BITS = [bytes(b"01"[(value >> bit) & 1] for bit in range(8)) for value in range(256)]


def _has_backup(group):
    """sparse_super: groups 0, 1 and powers of 3, 5 and 7 hold superblock copies."""
    if group <= 1:
        return True
    for base in (3, 5, 7):
        power = base
        while power < group:
            power *= base
        if power == group:
            return True
    return False
