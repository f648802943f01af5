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
    if re.match(r"^[A-Za-z0-9_.+@%=:,-]+$", name):
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
