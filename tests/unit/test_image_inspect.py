"""`ovirt-node image inspect`: facts of good images, one clear error per bad one.

Images are built in the test from tiny trees; the bad ones are made the way
they happen in practice (a cut-off download, a wrong file, a stale checksum).
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from org_ovirt_node.errors import NodeError
from org_ovirt_node.image.build import build_image
from org_ovirt_node.image.inspect import ImageInfo, inspect_image
from org_ovirt_node.image.mount import mounted_image
from tests.support.images import (KERNEL, NVR, OS_NAME, OS_VERSION, make_root_tree,
                                  needs_root, squash_tree, wrap_ext4, write)

pytestmark = needs_root


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """One built image (two kernels) shared by the read-only tests; copy to modify."""
    base = tmp_path_factory.mktemp("good")
    tree = make_root_tree(str(base / "root"), kernels=(KERNEL, "5.14.0-70.el9.x86_64"))
    write(tree, "usr/lib/random", os.urandom(256 << 10))  # so the image is not all padding
    image = str(base / "node.squashfs")
    build_image(tree, image, NVR)
    return image


def copy(image, tmp_path, with_checksum=True):
    target = str(tmp_path / os.path.basename(image))
    shutil.copy(image, target)
    if with_checksum:
        shutil.copy(image + ".sha256", target + ".sha256")
    return target


def mounts():
    """The mount table, less the temporary mounts of other processes (the other
    test worker's inspections, named ovirt-node-KIND-PID-...)."""
    own = os.getpid()
    kept = []
    with open("/proc/self/mounts") as stream:
        for line in stream:
            other = re.search(r"/ovirt-node-[a-z]+-(\d+)-", line)
            if other is None or int(other.group(1)) == own:
                kept.append(line)
    return "".join(kept)


def test_facts_of_a_built_image(good):
    info = inspect_image(good)
    with open(good, "rb") as stream:
        digest = hashlib.sha256(stream.read()).hexdigest()
    assert isinstance(info, ImageInfo)
    assert info.path == good
    assert info.nvr == NVR
    assert info.layout == "rootfs.img"
    assert (info.os_name, info.os_version) == (OS_NAME, OS_VERSION)
    assert info.kernels == ["5.14.0-70.el9.x86_64", KERNEL]
    assert info.compressed_size == os.path.getsize(good)
    assert 0 < info.rootfs_used < info.rootfs_size
    assert info.sha256 == digest and info.checksum_verified is True
    assert json.loads(json.dumps(info.to_dict()))["nvr"] == NVR


def test_missing_checksum_file_is_not_an_error(good, tmp_path):
    image = copy(good, tmp_path, with_checksum=False)
    info = inspect_image(image)
    assert info.checksum_verified is False and len(info.sha256) == 64
    unverified = inspect_image(image, verify_checksum=False)
    assert unverified.sha256 is None and unverified.checksum_verified is False


def test_plain_tree_image(tmp_path):
    tree = make_root_tree(str(tmp_path / "root"), nvr=NVR)
    write(tree, "usr/bin/tool", b"x" * 10000, mode=0o755)
    image = squash_tree(tree, tmp_path / "tree.squashfs")
    info = inspect_image(image)
    assert info.layout == "tree" and info.nvr == NVR and info.kernels == [KERNEL]
    assert info.rootfs_size >= 10000 and info.rootfs_used > 0
    assert info.checksum_verified is False
    with mounted_image(image) as mounted:
        assert mounted.rootfs_img is None and mounted.tree == mounted.mountpoint


def test_mounted_image_unmounts_on_error(good):
    before = mounts()
    with pytest.raises(RuntimeError):
        with mounted_image(good) as mounted:
            assert os.path.isfile(mounted.rootfs_img)
            assert mounted.mountpoint in mounts()
            raise RuntimeError("boom")
    assert mounts() == before


def expect_error(image, message, **kwargs):
    before = mounts()
    with pytest.raises(NodeError, match=message) as caught:
        inspect_image(image, **kwargs)
    assert "\n" not in str(caught.value)
    assert mounts() == before, "a failed inspection left a mount behind"
    return str(caught.value)


def test_not_a_squashfs(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    expect_error(str(text), "not a squashfs image$")
    empty = tmp_path / "empty.img"
    empty.write_bytes(b"")
    expect_error(str(empty), "not a squashfs image .the file is empty")
    expect_error(str(tmp_path / "missing.squashfs"), "no such file")
    expect_error(str(tmp_path), "is a directory")


def test_bare_ext4_gets_a_hint(tmp_path):
    tree = make_root_tree(str(tmp_path / "root"))
    ext4 = tmp_path / "rootfs.img"
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-d", tree, str(ext4), "16M"], check=True)
    expect_error(str(ext4), "not a squashfs image .it is an ext2/3/4 filesystem")


def test_truncated(good, tmp_path):
    image = copy(good, tmp_path)
    size = os.path.getsize(image)
    with open(image, "r+b") as stream:
        stream.truncate(size // 2)
    expect_error(image, r"truncated squashfs image \(\d+ of \d+ bytes")
    with open(image, "r+b") as stream:
        stream.truncate(40)
    expect_error(image, "truncated squashfs image .40 bytes, shorter than its superblock")


def test_checksum_mismatch(good, tmp_path):
    image = copy(good, tmp_path)
    with open(image + ".sha256", "w") as stream:
        stream.write("0" * 64 + "  node.squashfs\n")
    message = expect_error(image, "checksum mismatch")
    assert "0" * 64 in message
    with open(image + ".sha256", "w") as stream:
        stream.write("0" * 64 + "  other.squashfs\n")
    expect_error(image, "holds no SHA-256 line for 'node.squashfs'")
    assert inspect_image(image, verify_checksum=False).nvr == NVR


def test_neither_rootfs_nor_tree(tmp_path):
    junk = tmp_path / "junk"
    (junk / "LiveOS").mkdir(parents=True)
    (junk / "LiveOS/squashfs.img").write_text("live media, not a node image")
    image = squash_tree(junk, tmp_path / "junk.squashfs")
    expect_error(str(image), "holds no LiveOS/rootfs.img and is not a root tree")


def test_no_nvr(tmp_path):
    tree = make_root_tree(str(tmp_path / "root"))
    expect_error(str(squash_tree(tree, tmp_path / "tree.squashfs")),
                 "has no NVR .*/usr/share/imgbase/build/meta/nvr is missing")
    expect_error(str(wrap_ext4(tree, tmp_path / "wrapped.squashfs", tmp_path)),
                 "has no NVR")


def test_bad_nvr(tmp_path):
    tree = make_root_tree(str(tmp_path / "root"), nvr="no_release")
    expect_error(str(squash_tree(tree, tmp_path / "tree.squashfs")),
                 "bad NVR .*not of the form name-version-release")


def test_no_kernel(tmp_path):
    tree = make_root_tree(str(tmp_path / "root"), kernels=(), nvr=NVR)
    expect_error(str(squash_tree(tree, tmp_path / "tree.squashfs")),
                 r"has no kernel \(no /boot/vmlinuz-<version>\)")


def test_corrupt_squashfs_body(good, tmp_path):
    image = copy(good, tmp_path, with_checksum=False)
    size = os.path.getsize(image)
    with open(image, "r+b") as stream:
        stream.seek(96)
        stream.write(os.urandom(size - 96))
    expect_error(image, "cannot mount|read error|corrupt|not a readable")


def test_cli_inspect(good):
    result = subprocess.run([sys.executable, "-m", "org_ovirt_node", "image", "inspect",
                             good, "--json"], capture_output=True, text=True, check=True)
    data = json.loads(result.stdout)
    assert data["nvr"] == NVR and data["checksum_verified"] is True
    text = subprocess.run([sys.executable, "-m", "org_ovirt_node", "image", "inspect", good],
                          capture_output=True, text=True, check=True).stdout
    assert f"NVR:         {NVR}" in text and "matches node.squashfs.sha256" in text


def test_cli_inspect_bad_image_is_one_line(tmp_path):
    bad = tmp_path / "bad.squashfs"
    bad.write_text("nope")
    result = subprocess.run([sys.executable, "-m", "org_ovirt_node", "image", "inspect",
                             str(bad)], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr == f"ovirt-node: error: {bad}: not a squashfs image\n"
