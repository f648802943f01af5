"""Reading a file's blocks out of a squashfs without the kernel (squashfs.FileBlocks).

Each image is made by mksquashfs on this host and the bytes are compared with
what the kernel gives through a read-only mount of the same image.
"""

import mmap
import os
import subprocess

import pytest

from org_ovirt_node.image.mount import mounted_image
from org_ovirt_node.image.squashfs import open_file
from org_ovirt_node.install.deploy import stream_sparse
from org_ovirt_node.progress import RecordingReporter
from org_ovirt_node.sizes import KiB, MiB


def make_image(tmp_path, compression, tail):
    """A squashfs holding LiveOS/rootfs.img: data, a hole, random blocks, maybe a tail."""
    live = tmp_path / "tree" / "LiveOS"
    live.mkdir(parents=True)
    (tmp_path / "tree" / "other").write_bytes(b"another file")
    with open(live / "rootfs.img", "wb") as handle:
        handle.write(b"A" * 300 * KiB + os.urandom(200 * KiB))
        handle.seek(2 * MiB)                           # a hole: sparse blocks
        handle.write(os.urandom(MiB + 5000 if tail else MiB))
    image = tmp_path / "image.squashfs"
    options = {"zstd": ["-comp", "zstd"], "xz": ["-comp", "xz", "-Xbcj", "x86"],
               "gzip": ["-comp", "gzip"]}[compression]
    subprocess.run(["mksquashfs", str(tmp_path / "tree"), str(image), "-noappend", "-quiet",
                    "-b", "128K", *options, *(["-tailends"] if tail else [])], check=True, capture_output=True)
    return str(image), (live / "rootfs.img").read_bytes()


@pytest.mark.parametrize("compression", ["zstd", "xz", "gzip"])
def test_blocks_equal_the_kernels(tmp_path, compression):
    image, content = make_image(tmp_path, compression, tail=True)
    with open_file(image, "LiveOS/rootfs.img") as blocks:
        assert blocks.file_size == len(content)
        assert blocks.tail_offset == len(content) // (128 * KiB) * (128 * KiB)
        out = mmap.mmap(-1, 256 * KiB)
        for offset in range(0, blocks.tail_offset, 256 * KiB):
            size = min(256 * KiB, blocks.tail_offset - offset)
            blocks.read_into(offset, size, out)
            assert out[:size] == content[offset:offset + size]
        out.close()
    assert open_file(image, "LiveOS/missing.img") is None
    assert open_file(image, "LiveOS") is None


def test_stream_through_blocks_equals_through_the_mount(tmp_path):
    """stream_sparse with the squashfs named writes what it writes reading the mount."""
    image, content = make_image(tmp_path, "zstd", tail=True)
    outputs = []
    with mounted_image(image) as mounted:
        assert mounted.source == image
        for squashfs in (None, mounted.source):
            target = tmp_path / f"lv-{bool(squashfs)}"
            with open(target, "wb") as handle:
                handle.truncate(8 * MiB)
            stream_sparse(mounted.rootfs_img, str(target), RecordingReporter(),
                          block=64 * KiB, squashfs=squashfs, threads=3)
            outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0][:len(content)] == content


@pytest.mark.parametrize("compression", ["gzip", "xz", "zstd"])
def test_corrupt_block_fails_the_copy(tmp_path, compression):
    """A block that does not decompress stops the copy with one error naming the image
    and the block; nothing is skipped."""
    from org_ovirt_node.errors import NodeError
    image, _ = make_image(tmp_path, compression, tail=False)
    with mounted_image(image) as mounted:
        with open_file(image, "LiveOS/rootfs.img") as blocks:
            position, stored = blocks.positions[1]        # all "A": a compressed block
            assert stored and not stored & (1 << 24)
        target = tmp_path / "lv"
        with open(target, "wb") as handle:
            handle.truncate(8 * MiB)
        with open(image, "r+b") as handle:                # after the mount read the superblock
            handle.seek(position)
            handle.write(b"\xff" * 64)
        with pytest.raises(NodeError, match=rf"{image}: the data block at byte {position} "
                                            r"does not decompress \(corrupt image\?\)"):
            stream_sparse(mounted.rootfs_img, str(target), RecordingReporter(),
                          block=64 * KiB, squashfs=mounted.source)
