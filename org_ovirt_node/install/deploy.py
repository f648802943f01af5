"""Put the image's root filesystem onto the base LV.

The fast path copies LiveOS/rootfs.img block-wise and writes only the blocks
that hold data: on a fresh thin LV unwritten blocks read as zeros, so the LV
stays thin and the copy costs what the filesystem uses, not its size. Only
the stretches the ext4 block bitmaps mark in use are read at all, by several
threads at different offsets that decompress the squashfs blocks themselves
(the kernel may have one decompressor for all readers), while writer threads
write them with O_DIRECT. Stretches are as large as the pool's chunk (or a
multiple), so a written chunk is always written whole and nothing depends on
whether the pool zeroes new chunks. A plain-tree image is copied file-wise
onto a new ext4 instead.
"""

import mmap
import os
import queue
import stat
import threading

from org_ovirt_node.constants import ROOTFS_IN_IMAGE
from org_ovirt_node.errors import NodeError
from org_ovirt_node.image.ext4 import used_extents
from org_ovirt_node.image.squashfs import open_file
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


def stream_sparse(source, target, reporter, block=DEFAULT_BLOCK, step="deploy",
                  threads=None, squashfs=None, guard=None):
    """Copy file SOURCE onto device/file TARGET, skipping all-zero and unused blocks.

    TARGET must read as zeros wherever it is not written (a new thin LV, a new
    sparse file). When SOURCE is an ext4 image only the BLOCK-sized stretches
    holding a block its bitmaps mark in use are read at all (ext4.used_extents);
    of those, the ones that are all zeros are not written either. A stretch
    is written whole, so a written pool chunk is always written whole.

    THREADS reader threads (default: one per CPU, at least 2) each take the
    next batch of stretches at their own offset and read it, while writer
    threads write the full buffers: reading and writing overlap. When
    SQUASHFS names the image SOURCE lies in (SOURCE being its mounted
    LiveOS/rootfs.img), the readers take the compressed blocks from that file
    and decompress them themselves (squashfs.FileBlocks), so every core
    decompresses; the kernel's squashfs may use one decompressor for all
    readers. Writes to a block device bypass the page cache (O_DIRECT).
    GUARD, when given, is asked before every write (GUARD.check() raises a
    NodeError to stop the copy: lifecycle/poolguard.py watches the pool).
    Returns the number of bytes actually written.
    """
    total = os.path.getsize(source)
    target_size = _size_of(target)
    if target_size < total:
        raise NodeError(f"{target} ({format_size(target_size)}) is smaller than the image's "
                        f"root filesystem ({format_size(total)})")
    blocks = squashfs_file(squashfs, total) if squashfs else None
    try:
        if blocks and blocks.block_size > block and blocks.block_size % block == 0:
            block = blocks.block_size        # each squashfs block decompressed once
        stretches = _stretches(source, total, block)
        threads = threads or max(2, min(os.cpu_count() or 1, MAX_THREADS))
        copier = _Copier(source, target, block, stretches, reporter, step, total, blocks,
                         guard)
        return copier.run(threads)
    finally:
        if blocks:
            blocks.close()


def squashfs_file(image, size):
    """squashfs.FileBlocks of LiveOS/rootfs.img in IMAGE, or None to read through the mount."""
    try:
        blocks = open_file(image, ROOTFS_IN_IMAGE)
    except Exception:  # noqa: B902 - whatever this reader cannot parse, the kernel reads
        return None
    if blocks is not None and blocks.file_size != size:
        blocks.close()
        raise NodeError(f"{image}: {ROOTFS_IN_IMAGE} is {blocks.file_size} bytes in the image "
                        f"but {size} mounted")
    return blocks


MAX_THREADS = 8
BATCH = 4   # stretches one thread reads in a row: sequential for the kernel's read-ahead


def _stretches(source, total, block):
    """Offsets of the BLOCK-sized stretches of SOURCE that must be read, in order."""
    try:
        extents = used_extents(source)
    except OSError as error:
        raise NodeError(f"reading the image failed: {error}") from None
    if extents is None:
        return list(range(0, total, block))
    offsets = []
    for start, length in extents:
        first = start // block * block
        if offsets and offsets[-1] >= first:
            first = offsets[-1] + block
        offsets.extend(range(first, min(start + length, total), block))
    return offsets


class _Copier:
    """Reader threads fill buffers with stretches of SOURCE; writer threads write them.

    A buffer goes from the free pool to a reader, then (unless its stretch is
    all zeros) to a writer, then back to the pool, so reading, the zero check
    and writing overlap and memory stays at POOL buffers (fewer, 4 at least,
    when stretches are large: at most POOL_BYTES in all).
    """

    POOL = 16
    POOL_BYTES = 64 * MiB
    WRITERS = 2

    def __init__(self, source, target, block, stretches, reporter, step, total, blocks=None,
                 guard=None):
        self.source, self.target, self.block = source, target, block
        self.guard = guard       # .check() before each write raises to stop the copy
        self.blocks = blocks     # squashfs.FileBlocks: decompress here, not in the kernel
        self.stretches = stretches
        self.reporter, self.step, self.total = reporter, step, total
        self.lock = threading.Lock()
        self.next = 0            # index of the next batch's first stretch
        self.free = queue.Queue()
        self.full = queue.Queue()
        self.done = queue.Queue()
        self.failure = None
        self.stop = threading.Event()

    def _take(self):
        """The next batch of stretch offsets, or [] when all are taken."""
        with self.lock:
            first = self.next
            self.next += BATCH
        return self.stretches[first:first + BATCH]

    def run(self, threads):
        read_fds, buffers = [], []
        try:
            for _ in range(max(4, min(self.POOL, self.POOL_BYTES // self.block))):
                buffers.append(mmap.mmap(-1, self.block))   # page-aligned, as O_DIRECT wants
                self.free.put(buffers[-1])
            with _TargetWriter(self.target) as output:
                readers = []
                for _ in range(min(threads, max(1, len(self.stretches)))):
                    read_fds.append(os.open(self.source, os.O_RDONLY | os.O_CLOEXEC))
                    readers.append(threading.Thread(target=self._guarded, daemon=True,
                                                    args=(self._read, read_fds[-1])))
                writers = [threading.Thread(target=self._guarded, args=(self._write, output),
                                            daemon=True) for _ in range(self.WRITERS)]
                for thread in readers + writers:
                    thread.start()
                written = self._follow(len(readers), writers)
                for thread in readers + writers:
                    thread.join()
                if self.failure:
                    raise self.failure
                output.sync()
        finally:
            self.stop.set()
            for fd in read_fds:
                os.close(fd)
            for buffer in buffers:
                buffer.close()
        self.reporter.progress(self.step, self.total, self.total)
        return written

    def _follow(self, readers, writers):
        """Report progress as stretches finish; return the bytes written."""
        written = read = 0
        while readers or writers:
            item = self.done.get()
            if item == "reader":
                readers -= 1
                if not readers:
                    for _ in writers:
                        self.full.put(None)
                continue
            if item == "writer":
                writers = writers[1:]
                continue
            count, wrote = item
            read += count
            written += wrote
            self.reporter.progress(self.step, min(read, self.total), self.total)
        return written

    def _guarded(self, work, arg):
        """Run WORK(ARG); an error stops every thread and is raised by run()."""
        try:
            work(arg)
        except NodeError as error:
            self.failure = self.failure or error
            self.stop.set()
        except Exception as error:  # noqa: B902 - a decompressor's own error type, too
            self.failure = self.failure or NodeError(f"copying the image failed: {error}")
            self.stop.set()
        finally:
            self.done.put("reader" if work == self._read else "writer")

    def _get(self, pool):
        """The next item of POOL, or None once the copy is stopped."""
        while not self.stop.is_set():
            try:
                return pool.get(timeout=0.2)
            except queue.Empty:
                pass
        return None

    def _read(self, fd):
        zeros = bytes(self.block)
        while True:
            batch = self._take()
            if not batch:
                return
            for offset in batch:
                buffer = self._get(self.free)
                if buffer is None:
                    return
                want = min(self.block, self.total - offset)
                if self.blocks and offset + want <= self.blocks.tail_offset:
                    self.blocks.read_into(offset, want, buffer)
                    size = want
                else:
                    size = _read_full(fd, buffer, offset, want)
                if size != want:
                    raise NodeError(f"reading {self.source} stopped at "
                                    f"{format_size(offset + size)} of {format_size(self.total)}")
                with memoryview(buffer) as whole, whole[:size] as data:
                    empty = zeros.startswith(data)      # a memcmp: all zeros?
                if empty:
                    self.free.put(buffer)
                    self.done.put((size, 0))
                else:
                    self.full.put((offset, buffer, size))

    def _write(self, output):
        while True:
            item = self._get(self.full)
            if item is None:
                return
            offset, buffer, size = item
            if self.guard is not None:
                self.guard.check()
            with memoryview(buffer) as whole, whole[:size] as data:
                output.write_view(data, offset)
            self.free.put(buffer)
            self.done.put((size, size))


def _read_full(fd, buffer, offset, size):
    """Read SIZE bytes at OFFSET of FD into BUFFER; return the bytes read (less at EOF)."""
    done = 0
    with memoryview(buffer) as view:
        while done < size:
            with view[done:size] as rest:
                count = os.preadv(fd, [rest], offset + done)
            if not count:
                break
            done += count
    return done


class _TargetWriter:
    """TARGET opened for positioned writes; block devices with O_DIRECT.

    O_DIRECT needs page-aligned buffers and lengths that are a multiple of the
    device's sector size: the copier's buffers are mmap'd (aligned), and an
    unaligned tail goes through a second, buffered descriptor.
    """

    def __init__(self, target):
        self.target = target
        self.direct = stat.S_ISBLK(os.stat(target).st_mode) and hasattr(os, "O_DIRECT")
        self.fd = self.buffered_fd = None

    def __enter__(self):
        self.buffered_fd = os.open(self.target, os.O_WRONLY)
        if self.direct:
            try:
                self.fd = os.open(self.target, os.O_WRONLY | os.O_DIRECT)
            except OSError:
                self.direct = False
        return self

    def write_view(self, data, offset):
        """Write DATA (a view of a page-aligned buffer) at OFFSET of the target."""
        size = len(data)
        aligned = self.direct and size % DIRECT_ALIGN == 0 and offset % DIRECT_ALIGN == 0
        fd = self.fd if aligned else self.buffered_fd
        done = 0
        while done < size:
            with data[done:] as rest:
                done += os.pwritev(fd, [rest], offset + done)

    def sync(self):
        """Make everything written durable."""
        os.fsync(self.buffered_fd)

    def __exit__(self, *exc):
        for fd in (self.fd, self.buffered_fd):
            if fd is not None:
                os.close(fd)
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


def deploy_image(mounted_image, device, reporter, chunk_size=0, step="deploy", guard=None):
    """Fill DEVICE from MOUNTED_IMAGE by the fastest correct path.

    Byte progress is reported under STEP, the name of the caller's step;
    GUARD stops the block copy (stream_sparse).
    """
    if mounted_image.rootfs_img:
        written = stream_sparse(mounted_image.rootfs_img, device, reporter,
                                block_size_for(chunk_size), step=step,
                                squashfs=mounted_image.source, guard=guard)
        reporter.info(f"wrote {format_size(written)} of data blocks")
        grow_and_reidentify(device)
    else:
        copy_tree(mounted_image.tree, device, reporter)
