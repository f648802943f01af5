"""`ovirt-node image build`: real mke2fs, debugfs and mksquashfs on small trees.

Each test builds an image from a tree made in tmp_path, then reads the result
back through a read-only loop mount and compares it with the source.
"""

import hashlib
import json
import os
import subprocess
import sys

import pytest

from org_ovirt_node.constants import NVR_PATH_IN_IMAGE
from org_ovirt_node.errors import NodeError
from org_ovirt_node.image.build import build_image
from org_ovirt_node.image.ext4 import ext4_sizes
from org_ovirt_node.image.mount import mounted_image, mounted_rootfs
from org_ovirt_node.progress import RecordingReporter
from tests.support.images import (KERNEL, NVR, add_every_file_kind, make_root_tree,
                                  manifest, needs_root, write)

pytestmark = needs_root


@pytest.fixture
def tree(tmp_path):
    return make_root_tree(str(tmp_path / "root"))


def read_back(image):
    """Manifest of the root filesystem inside IMAGE and the NVR it records."""
    with mounted_image(image) as mounted:
        assert mounted.rootfs_img and mounted.tree is None
        with mounted_rootfs(mounted.rootfs_img) as root:
            with open(os.path.join(root, NVR_PATH_IN_IMAGE)) as stream:
                nvr = stream.read()
            return manifest(root, skip=("lost+found", "usr/share/imgbase")), nvr


def test_keeps_every_file_kind(tree, tmp_path):
    add_every_file_kind(tree)
    before = manifest(tree)
    image = str(tmp_path / "node.squashfs")

    info = build_image(tree, image, NVR)

    inside, nvr = read_back(image)
    assert inside == before
    assert nvr == NVR                  # exactly, as imgbased reads it: no newline
    assert manifest(tree) == before, "the build must not touch ROOTDIR"
    assert not os.path.exists(os.path.join(tree, NVR_PATH_IN_IMAGE))
    assert dict(before["usr/share/fixtures/sparse"])["holey"]
    assert info.nvr == NVR and info.layout == "rootfs.img" and info.kernels == [KERNEL]


def test_squashfs_holds_exactly_the_rootfs_and_checksum_file_works(tree, tmp_path):
    image = tmp_path / "node.squashfs"
    info = build_image(tree, str(image), NVR)
    listing = subprocess.run(["unsquashfs", "-lc", "-d", "", str(image)], check=True,
                             capture_output=True, text=True).stdout.split()
    assert listing == ["/LiveOS/rootfs.img"]
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    assert (tmp_path / "node.squashfs.sha256").read_text() == f"{digest}  node.squashfs\n"
    subprocess.run(["sha256sum", "--quiet", "-c", "node.squashfs.sha256"], cwd=tmp_path,
                   check=True)
    assert info.sha256 == digest and info.checksum_verified
    assert info.compression == "zstd"
    assert not [p for p in os.listdir(tmp_path) if ".build-" in p], "work files left behind"


def test_rootfs_has_headroom_and_is_ext4_the_installer_can_grow(tree, tmp_path):
    write(tree, "usr/lib/big", os.urandom(8 << 20))
    image = str(tmp_path / "node.squashfs")
    info = build_image(tree, image, NVR)
    assert info.rootfs_used >= 8 << 20
    free = info.rootfs_size - info.rootfs_used
    assert free >= info.rootfs_used * 0.10
    assert info.rootfs_size <= 2 * info.rootfs_used + (128 << 20)
    with mounted_image(image) as mounted:
        features = subprocess.run(["dumpe2fs", "-h", mounted.rootfs_img], check=True,
                                  capture_output=True, text=True).stdout
        assert (info.rootfs_size, info.rootfs_used) == ext4_sizes(mounted.rootfs_img)
    assert "Block size:               4096" in features
    assert "orphan_file" not in features, "EL8/EL9 kernels cannot mount orphan_file"


def test_reproducible_with_source_date_epoch(tree, tmp_path, monkeypatch):
    add_every_file_kind(tree)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first, second = str(tmp_path / "a.squashfs"), str(tmp_path / "b.squashfs")
    build_image(tree, first, NVR)
    # Reading files and changing then restoring a mode move atime and ctime only.
    manifest(tree)
    os.chmod(os.path.join(tree, "etc/fstab"), 0o600)
    os.chmod(os.path.join(tree, "etc/fstab"), 0o644)
    build_image(tree, second, NVR)
    with open(first, "rb") as a, open(second, "rb") as b:
        assert a.read() == b.read()
    third = str(tmp_path / "c.squashfs")
    build_image(tree, third, "test-node-ng-1.0-0.2")
    with open(first, "rb") as a, open(third, "rb") as c:
        assert a.read() != c.read()


def test_xz_compression(tree, tmp_path):
    info = build_image(tree, str(tmp_path / "node.squashfs"), NVR, compression="xz")
    assert info.compression == "xz"


def test_reports_steps_and_progress(tree, tmp_path):
    reporter = RecordingReporter()
    build_image(tree, str(tmp_path / "node.squashfs"), NVR, reporter=reporter)
    steps = [event[1] for event in reporter.events if event[0] == "step"]
    assert steps[:3] == ["scan", "ext4", "nvr"]
    assert "squashfs" in steps and "checksum" in steps
    squash = [e for e in reporter.events if e[0] == "progress" and e[1] == "squashfs"]
    assert squash and squash[-1][2] == squash[-1][3] > 0


def test_existing_nvr_in_tree_is_replaced_with_a_warning(tmp_path):
    tree = make_root_tree(str(tmp_path / "root"), nvr="old-node-0.9-1")
    reporter = RecordingReporter()
    image = str(tmp_path / "node.squashfs")
    build_image(tree, image, NVR, reporter=reporter)
    assert any(e[0] == "warning" and "old-node-0.9-1" in e[1] for e in reporter.events)
    assert read_back(image)[1] == NVR
    with open(os.path.join(tree, NVR_PATH_IN_IMAGE)) as stream:
        assert stream.read() == "old-node-0.9-1\n"


@pytest.mark.parametrize("nvr, message", [
    ("no-release", "name-version-release"),
    ("bad name-1-1", "letters, digits"),
    ("node-1-1+1", "layer"),
])
def test_refuses_bad_nvr(tree, tmp_path, nvr, message):
    with pytest.raises(NodeError, match=message):
        build_image(tree, str(tmp_path / "x.squashfs"), nvr)


def test_refuses_bad_inputs(tmp_path):
    no_kernel = make_root_tree(str(tmp_path / "nokernel"), kernels=())
    with pytest.raises(NodeError, match="has no kernel"):
        build_image(no_kernel, str(tmp_path / "x.squashfs"), NVR)
    with pytest.raises(NodeError, match="not a directory"):
        build_image(str(tmp_path / "missing"), str(tmp_path / "x.squashfs"), NVR)
    tree = make_root_tree(str(tmp_path / "root"))
    with pytest.raises(NodeError, match="inside ROOTDIR"):
        build_image(tree, os.path.join(tree, "var/x.squashfs"), NVR)
    with pytest.raises(NodeError, match="folder of the output image does not exist"):
        build_image(tree, str(tmp_path / "nodir/x.squashfs"), NVR)
    assert not os.path.exists(tmp_path / "x.squashfs")


def test_refuses_mount_point_inside_tree(tree, tmp_path):
    proc = os.path.join(tree, "proc")
    os.mkdir(proc)
    subprocess.run(["mount", "-t", "tmpfs", "none", proc], check=True)
    try:
        with pytest.raises(NodeError, match="/proc is a mount point"):
            build_image(tree, str(tmp_path / "x.squashfs"), NVR)
    finally:
        subprocess.run(["umount", proc], check=True)


def test_cli_build_json(tree, tmp_path):
    image = tmp_path / "node.squashfs"
    result = subprocess.run(
        [sys.executable, "-m", "org_ovirt_node", "image", "build", tree, "-o", str(image),
         "--nvr", NVR, "--json"], capture_output=True, text=True, check=True)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "step"
    assert events[-1]["event"] == "result"
    assert events[-1]["image"]["nvr"] == NVR
    assert events[-1]["image"]["sha256"] == hashlib.sha256(image.read_bytes()).hexdigest()


def test_cli_build_error_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "org_ovirt_node", "image", "build", str(tmp_path / "none"),
         "-o", str(tmp_path / "x.squashfs"), "--nvr", NVR], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "not a directory" in result.stderr
