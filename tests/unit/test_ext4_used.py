"""Which blocks of an ext4 image are in use, read from its bitmaps (ext4.used_extents).

Checked against dumpe2fs (libext2fs' own reading, which also fills in the
metadata of groups whose bitmap was never initialised) on real images made
by mkfs.ext4 on this host.
"""

import os
import re
import subprocess

import pytest

from org_ovirt_node.image.ext4 import used_extents
from org_ovirt_node.sizes import MiB


def make_tree(root):
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "big").write_bytes(os.urandom(3 * MiB))
    (root / "a" / "b" / "small").write_bytes(b"x" * 5000)
    with open(root / "sparse", "wb") as handle:
        handle.seek(20 * MiB)
        handle.write(b"end")
    for number in range(50):
        (root / "a" / f"f{number}").write_bytes(os.urandom(number * 1000))
    return root


def make_ext4(path, tree, size_mib, *options):
    with open(path, "wb") as handle:
        handle.truncate(size_mib * MiB)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "nodiscard", *options, "-d", str(tree),
                    str(path)], check=True)
    return str(path)


def used_by_dumpe2fs(image):
    """Set of block numbers in use: every block not listed free by a group."""
    text = subprocess.run(["dumpe2fs", image], check=True, text=True,
                          capture_output=True).stdout
    blocks = int(re.search(r"Block count:\s+(\d+)", text).group(1))
    free = set()
    for match in re.finditer(r"^  Free blocks: (.*)$", text, re.M):
        for part in filter(None, (p.strip() for p in match.group(1).split(","))):
            first, _, last = part.partition("-")
            free.update(range(int(first), int(last or first) + 1))
    block = int(re.search(r"Block size:\s+(\d+)", text).group(1))
    return set(range(blocks)) - free, block


@pytest.mark.parametrize("options", [
    ["-b", "4096"],                                  # flex_bg, 64bit: today's defaults
    ["-b", "4096", "-O", "^flex_bg,^64bit"],         # bitmaps in their own groups
    ["-b", "1024"],                                  # first data block 1
    ["-b", "4096", "-O", "^sparse_super,^resize_inode"],  # superblock copy in every group
])
def test_used_extents_match_dumpe2fs(tmp_path, options):
    image = make_ext4(tmp_path / "fs.img", make_tree(tmp_path / "tree"), 600, *options)
    want, block = used_by_dumpe2fs(image)
    extents = used_extents(image)
    got = set()
    for offset, length in extents:
        assert offset % block == 0 and length % block == 0
        got.update(range(offset // block, (offset + length) // block))
    assert got == want
    assert extents == sorted(extents)
    assert all(a + la < b for (a, la), (b, _) in zip(extents, extents[1:]))  # merged


def test_not_ext4_is_none(tmp_path):
    path = tmp_path / "plain"
    path.write_bytes(os.urandom(8192))
    assert used_extents(str(path)) is None
    image = make_ext4(tmp_path / "big.img", make_tree(tmp_path / "tree"), 300,
                      "-O", "bigalloc", "-C", "65536")
    assert used_extents(image) is None               # clusters: not read, all copied
