"""Put the image's root filesystem onto the base LV.

The fast path copies LiveOS/rootfs.img block-wise and writes only the blocks
that hold data: on a fresh thin LV unwritten blocks read as zeros, so the LV
stays thin and the copy costs what the filesystem uses, not its size. Blocks
are as large as the pool's chunk (or a multiple), so a written chunk is always
written whole and nothing depends on whether the pool zeroes new chunks.
A plain-tree image is copied file-wise onto a new ext4 instead.
"""

import os

from org_ovirt_node.errors import NodeError
from org_ovirt_node.sizes import MiB, format_size
from org_ovirt_node.util.mounts import mounted
from org_ovirt_node.util.run import run

DEFAULT_BLOCK = 1 * MiB


def block_size_for(chunk_size):
    """The copy block: 1 MiB, or the thin pool chunk if that is larger."""
    if chunk_size and chunk_size > DEFAULT_BLOCK:
        return chunk_size
    if chunk_size and DEFAULT_BLOCK % chunk_size:
        return chunk_size
    return DEFAULT_BLOCK


def stream_sparse(source, target, reporter, block=DEFAULT_BLOCK, step="deploy"):
    """Copy file SOURCE onto device/file TARGET, skipping all-zero blocks.

    TARGET must read as zeros wherever it is not written (a new thin LV, a new
    sparse file). Returns the number of bytes actually written.
    """
    total = os.path.getsize(source)
    target_size = _size_of(target)
    if target_size < total:
        raise NodeError(f"{target} ({format_size(target_size)}) is smaller than the image's "
                        f"root filesystem ({format_size(total)})")
    zeros = bytes(block)
    buffer = bytearray(block)
    view = memoryview(buffer)
    written = done = 0
    with open(source, "rb", buffering=0) as src, open(target, "r+b", buffering=0) as dst:
        while True:
            count = src.readinto(buffer)
            if not count:
                break
            chunk = view[:count]
            if chunk != zeros[:count]:
                dst.seek(done)
                dst.write(chunk)
                written += count
            done += count
            reporter.progress(step, done, total)
        os.fsync(dst.fileno())
    return written


def _size_of(path):
    with open(path, "rb") as handle:
        return handle.seek(0, os.SEEK_END)


def grow_and_reidentify(device):
    """Check the ext4 on DEVICE, grow it to fill DEVICE, give it a new UUID."""
    fsck = run(["e2fsck", "-f", "-y", device], check=False)
    if fsck.returncode not in (0, 1):
        raise NodeError(f"the image's root filesystem on {device} has errors e2fsck could "
                        f"not fix (exit {fsck.returncode})")
    run(["resize2fs", device])
    run(["tune2fs", "-U", "random", device])


def new_uuid(device):
    """Give the ext4 on DEVICE a new UUID (after the check tune2fs requires)."""
    fsck = run(["e2fsck", "-f", "-y", device], check=False)
    if fsck.returncode not in (0, 1):
        raise NodeError(f"e2fsck found errors it could not fix on {device}")
    run(["tune2fs", "-U", "random", device])


def copy_tree(tree, device, reporter, step="deploy"):
    """Make an ext4 on DEVICE and copy the root TREE into it, keeping metadata."""
    run(["mkfs.ext4", "-q", "-F", device])
    reporter.info("copying the plain root tree file by file")
    with mounted(device) as target:
        run(["rsync", "-aHAXS", "--numeric-ids", f"{tree}/", f"{target}/"])


def deploy_image(mounted_image, device, reporter, chunk_size=0):
    """Fill DEVICE from MOUNTED_IMAGE by the fastest correct path."""
    if mounted_image.rootfs_img:
        written = stream_sparse(mounted_image.rootfs_img, device, reporter,
                                block_size_for(chunk_size))
        reporter.info(f"wrote {format_size(written)} of data blocks")
        grow_and_reidentify(device)
    else:
        copy_tree(mounted_image.tree, device, reporter)
