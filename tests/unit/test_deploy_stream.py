"""The block-wise sparse copy of a root filesystem image."""

import os
import subprocess

import pytest

from org_ovirt_node.errors import NodeError
from org_ovirt_node.install.deploy import block_size_for, new_uuid, stream_sparse
from org_ovirt_node.progress import RecordingReporter
from org_ovirt_node.sizes import KiB, MiB


def make_source(path, layout):
    """Write a file of (offset, bytes) pieces with zeros between them."""
    with open(path, "wb") as handle:
        handle.truncate(8 * MiB)
        for offset, data in layout:
            handle.seek(offset)
            handle.write(data)


def test_copies_content_and_keeps_target_sparse(tmp_path):
    source, target = tmp_path / "rootfs.img", tmp_path / "lv"
    make_source(source, [(0, b"superblock"), (3 * MiB + 5, os.urandom(1000)),
                         (8 * MiB - 4, b"tail")])
    with open(target, "wb") as handle:
        handle.truncate(16 * MiB)
    reporter = RecordingReporter()
    written = stream_sparse(str(source), str(target), reporter, block=1 * MiB)
    assert written == 3 * MiB                       # three non-zero blocks of 1 MiB
    with open(source, "rb") as src, open(target, "rb") as dst:
        assert dst.read(8 * MiB) == src.read()
    assert os.stat(target).st_blocks * 512 <= 3 * MiB + 64 * KiB
    progress = [event for event in reporter.events if event[0] == "progress"]
    assert progress[-1][2:] == (8 * MiB, 8 * MiB)


def test_target_too_small_is_refused(tmp_path):
    source, target = tmp_path / "rootfs.img", tmp_path / "lv"
    make_source(source, [(0, b"x")])
    with open(target, "wb") as handle:
        handle.truncate(1 * MiB)
    with pytest.raises(NodeError, match="smaller than"):
        stream_sparse(str(source), str(target), RecordingReporter())
    assert os.path.getsize(target) == 1 * MiB
    assert os.stat(target).st_blocks == 0


@pytest.mark.parametrize("chunk,block", [(0, MiB), (64 * KiB, MiB), (2 * MiB, 2 * MiB),
                                         (192 * KiB, 192 * KiB)])
def test_block_is_a_multiple_of_the_pool_chunk(chunk, block):
    assert block_size_for(chunk) == block


def test_block_device_target_with_unaligned_tail(tmp_path):
    """On a block device the aligned blocks go through O_DIRECT, the tail buffered."""
    source, backing = tmp_path / "rootfs.img", tmp_path / "lv.img"
    make_source(source, [(0, os.urandom(4096)), (5 * MiB, os.urandom(70000))])
    with open(source, "ab") as handle:
        handle.write(os.urandom(1000))                 # size no longer a sector multiple
    with open(backing, "wb") as handle:
        handle.truncate(16 * MiB)
    device = subprocess.run(["losetup", "--find", "--show", str(backing)], check=True,
                            text=True, capture_output=True).stdout.strip()
    try:
        stream_sparse(str(source), device, RecordingReporter(), block=1 * MiB)
    finally:
        subprocess.run(["losetup", "-d", device], check=True)
    size = os.path.getsize(source)
    with open(source, "rb") as src, open(backing, "rb") as dst:
        assert dst.read(size) == src.read()
        assert dst.read(1 * MiB) == bytes(1 * MiB)


def test_new_uuid_on_metadata_csum_ext4_is_clean(tmp_path):
    """A new UUID keeps the filesystem consistent (the checksum seed is kept)."""
    image = tmp_path / "fs.img"
    with open(image, "wb") as handle:
        handle.truncate(64 * MiB)
    subprocess.run(["mkfs.ext4", "-q", "-O", "metadata_csum", "-d", "/etc/apt", str(image)],
                   check=True)

    def uuid():
        return subprocess.run(["blkid", "-p", "-s", "UUID", "-o", "value", str(image)],
                              check=True, text=True, capture_output=True).stdout.strip()

    before = uuid()
    new_uuid(str(image))
    assert uuid() != before
    features = subprocess.run(["tune2fs", "-l", str(image)], check=True, text=True,
                              capture_output=True).stdout
    assert "metadata_csum_seed" in features
    assert subprocess.run(["e2fsck", "-fn", str(image)], capture_output=True).returncode == 0
    new_uuid(str(image))                          # a second change (the layer's) works too
    assert subprocess.run(["e2fsck", "-fn", str(image)], capture_output=True).returncode == 0


def _ext4_image(tmp_path, size_mib=256):
    """A real ext4 (mkfs.ext4 -d) with files, and garbage in its free blocks."""
    tree = tmp_path / "tree"
    (tree / "d").mkdir(parents=True)
    for number in range(40):
        (tree / "d" / f"f{number}").write_bytes(os.urandom(number * 7000 + 1))
    (tree / "big").write_bytes(os.urandom(5 * MiB))
    image = tmp_path / "rootfs.img"
    with open(image, "wb") as handle:
        handle.truncate(size_mib * MiB)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-d", str(tree), str(image)],
                   check=True)
    from org_ovirt_node.image.ext4 import used_extents
    extents = used_extents(str(image))
    # Leftovers a build can leave in free space: never copied.
    with open(image, "r+b") as handle:
        for offset in range(0, size_mib * MiB, 3 * MiB + 4096):
            if not any(start <= offset < start + length for start, length in extents):
                handle.seek(offset)
                handle.write(b"free-block-garbage")
    return image, extents


def test_ext4_copies_exactly_the_used_blocks(tmp_path):
    """Only the stretches holding used blocks are written; used blocks are byte-equal."""
    image, extents = _ext4_image(tmp_path)
    target = tmp_path / "lv"
    with open(target, "wb") as handle:
        handle.truncate(512 * MiB)
    block = 64 * KiB
    written = stream_sparse(str(image), str(target), RecordingReporter(), block=block)
    stretches = {offset // block for start, length in extents
                 for offset in range(start // block * block, start + length, block)}
    with open(image, "rb") as src, open(target, "rb") as dst:
        for start, length in extents:
            src.seek(start)
            dst.seek(start)
            assert dst.read(length) == src.read(length)
        written_stretches = set()
        for number in range(os.path.getsize(image) // block):
            dst.seek(number * block)
            if dst.read(block) != bytes(block):
                written_stretches.add(number)
    assert written_stretches <= stretches                   # nothing beyond used stretches
    assert written == len(written_stretches) * block         # all-zero stretches not written
    assert subprocess.run(["e2fsck", "-fn", str(target)], capture_output=True).returncode == 0


def test_threads_give_identical_output(tmp_path):
    """One reader or several at different offsets: the same bytes land."""
    image, _ = _ext4_image(tmp_path, size_mib=128)
    outputs = []
    for threads in (1, 2, 5):
        target = tmp_path / f"lv{threads}"
        with open(target, "wb") as handle:
            handle.truncate(128 * MiB)
        stream_sparse(str(image), str(target), RecordingReporter(), block=64 * KiB,
                      threads=threads)
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]


def test_read_failure_in_a_thread_is_raised(tmp_path, monkeypatch):
    """An error in any reading thread stops the copy and is raised as a NodeError."""
    from org_ovirt_node.install import deploy
    source, target = tmp_path / "rootfs.img", tmp_path / "lv"
    make_source(source, [(0, b"x"), (5 * MiB, b"y")])
    with open(target, "wb") as handle:
        handle.truncate(16 * MiB)

    def failing(fd, buffer, offset, size):
        if offset >= 4 * MiB:
            raise OSError(5, "Input/output error")
        return real(fd, buffer, offset, size)
    real = deploy._read_full
    monkeypatch.setattr(deploy, "_read_full", failing)
    with pytest.raises(NodeError, match="Input/output error"):
        stream_sparse(str(source), str(target), RecordingReporter(), block=1 * MiB, threads=3)
