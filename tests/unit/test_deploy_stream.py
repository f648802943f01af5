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
