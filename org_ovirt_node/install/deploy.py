"""Put the image's root filesystem onto the base LV.

The fast path copies LiveOS/rootfs.img block-wise and writes only the blocks
that hold data: on a fresh thin LV unwritten blocks read as zeros, so the LV
stays thin and the copy costs what the filesystem uses, not its size. Blocks
are as large as the pool's chunk (or a multiple), so a written chunk is always
written whole and nothing depends on whether the pool zeroes new chunks.
A plain-tree image is copied file-wise onto a new ext4 instead.
"""

import mmap
import os
import queue
import stat
import threading

from org_ovirt_node.errors import NodeError
from org_ovirt_node.sizes import MiB, format_size
from org_ovirt_node.util.blkid import fs_type
from org_ovirt_node.util.mounts import mounted
from org_ovirt_node.util.run import output, run

DEFAULT_BLOCK = 1 * MiB
DIRECT_ALIGN = 4096   # O_DIRECT offsets and lengths: a multiple of this


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
    sparse file). A reader thread decompresses the next blocks from the image
    while this thread writes, and writes to a block device bypass the page
    cache (O_DIRECT), so the copy runs at the speed of the slower of the two.
    Returns the number of bytes actually written.
    """
    total = os.path.getsize(source)
    target_size = _size_of(target)
    if target_size < total:
        raise NodeError(f"{target} ({format_size(target_size)}) is smaller than the image's "
                        f"root filesystem ({format_size(total)})")
    zeros = bytes(block)
    written = done = 0
    with _BlockReader(source, block) as reader, _TargetWriter(target) as output:
        for offset, data in reader:
            if data != zeros[:len(data)]:
                output.write_at(data, offset)
                written += len(data)
            done = offset + len(data)
            reporter.progress(step, done, total)
        output.sync()
    if done != total:
        raise NodeError(f"reading {source} stopped at {format_size(done)} of "
                        f"{format_size(total)}")
    return written


class _BlockReader:
    """Reads SOURCE block by block in a thread, a few blocks ahead of the writer.

    Iterating yields (offset, block data). Errors in the thread are raised in
    the iterating thread.
    """

    DEPTH = 8

    def __init__(self, source, block):
        self.source = source
        self.block = block
        self.blocks = queue.Queue(self.DEPTH)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        while self.thread.is_alive():
            try:
                self.blocks.get(timeout=0.1)
            except queue.Empty:
                pass
        return False

    def _read(self):
        offset = 0
        try:
            with open(self.source, "rb", buffering=0) as handle:
                while not self.stop.is_set():
                    data = handle.read(self.block)
                    if not data:
                        break
                    self.blocks.put((offset, data))
                    offset += len(data)
            self.blocks.put(None)
        except OSError as error:
            self.blocks.put(error)

    def __iter__(self):
        while True:
            item = self.blocks.get()
            if item is None:
                return
            if isinstance(item, OSError):
                raise NodeError(f"reading the image failed: {item}")
            yield item


class _TargetWriter:
    """TARGET opened for positioned writes; block devices with O_DIRECT.

    O_DIRECT needs page-aligned buffers and lengths that are a multiple of the
    device's sector size, so data is copied into an mmap'd (aligned) buffer,
    and an unaligned tail goes through a second, buffered descriptor.
    """

    def __init__(self, target):
        self.target = target
        self.direct = stat.S_ISBLK(os.stat(target).st_mode) and hasattr(os, "O_DIRECT")
        self.fd = self.buffered_fd = None
        self.buffer = None

    def __enter__(self):
        self.buffered_fd = os.open(self.target, os.O_WRONLY)
        if self.direct:
            try:
                self.fd = os.open(self.target, os.O_WRONLY | os.O_DIRECT)
            except OSError:
                self.direct = False
        return self

    def write_at(self, data, offset):
        """Write DATA at OFFSET of the target."""
        size = len(data)
        if self.direct and size % DIRECT_ALIGN == 0 and offset % DIRECT_ALIGN == 0:
            if self.buffer is None or len(self.buffer) < size:
                self.buffer = mmap.mmap(-1, size)
            self.buffer[:size] = data
            view = memoryview(self.buffer)[:size]
            try:
                os.pwritev(self.fd, [view], offset)
            finally:
                view.release()
        else:
            os.pwrite(self.buffered_fd, data, offset)

    def sync(self):
        """Make everything written durable."""
        os.fsync(self.buffered_fd)

    def __exit__(self, *exc):
        for fd in (self.fd, self.buffered_fd):
            if fd is not None:
                os.close(fd)
        if self.buffer is not None:
            self.buffer.close()
        return False


def _size_of(path):
    with open(path, "rb") as handle:
        return handle.seek(0, os.SEEK_END)


def _check_ext4(device):
    """e2fsck DEVICE, repairing what it can (resize2fs and tune2fs require a check)."""
    fsck = run(["e2fsck", "-f", "-y", device], check=False)
    if fsck.returncode not in (0, 1):
        raise NodeError(f"the filesystem on {device} has errors e2fsck could not fix "
                        f"(exit {fsck.returncode})")


def grow_and_reidentify(device):
    """Check the ext4 on DEVICE, grow it to fill DEVICE, give it a new UUID."""
    _check_ext4(device)
    run(["resize2fs", device])
    _random_ext4_uuid(device)


def new_uuid(device):
    """Give the filesystem on DEVICE (a new snapshot) a new UUID.

    ext4: the check tune2fs requires, then a random UUID. XFS refuses to mount
    a second filesystem with one UUID and a snapshot of a mounted XFS has a
    dirty log: mount it once with nouuid to replay the log, then generate.
    """
    if fs_type(device) == "xfs":
        with mounted(device, options="nouuid"):
            pass
        run(["xfs_admin", "-U", "generate", device])
        return
    _check_ext4(device)
    _random_ext4_uuid(device)


def _random_ext4_uuid(device):
    """Give the (checked) ext4 on DEVICE a random UUID.

    With metadata_csum every checksum is seeded from the UUID, so a plain
    `tune2fs -U` rewrites all metadata. The metadata_csum_seed feature (Linux
    4.4, e2fsprogs 1.43: every EL8+ node) keeps the seed in the superblock
    and makes the change O(1).
    """
    features = output(["tune2fs", "-l", device])
    if "metadata_csum" in features and "metadata_csum_seed" not in features:
        run(["tune2fs", "-O", "metadata_csum_seed", "-U", "random", device])
    else:
        run(["tune2fs", "-U", "random", device])


def copy_tree(tree, device, reporter, step="deploy"):
    """Make an ext4 on DEVICE and copy the root TREE into it, keeping metadata."""
    run(["mkfs.ext4", "-q", "-F", device])
    reporter.info("copying the plain root tree file by file")
    with mounted(device) as target:
        run(["rsync", "-aHAXS", "--numeric-ids", f"{tree}/", f"{target}/"])


def deploy_image(mounted_image, device, reporter, chunk_size=0, step="deploy"):
    """Fill DEVICE from MOUNTED_IMAGE by the fastest correct path.

    Byte progress is reported under STEP, the name of the caller's step.
    """
    if mounted_image.rootfs_img:
        written = stream_sparse(mounted_image.rootfs_img, device, reporter,
                                block_size_for(chunk_size), step=step)
        reporter.info(f"wrote {format_size(written)} of data blocks")
        grow_and_reidentify(device)
    else:
        copy_tree(mounted_image.tree, device, reporter)
