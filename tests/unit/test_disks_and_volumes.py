"""Disk checks on real loop devices and volume seeding on real ext4 filesystems."""

import hashlib
import os
import subprocess

import pytest

from org_ovirt_node.errors import NodeError
from org_ovirt_node.install.disks import check_disk
from org_ovirt_node.install.volumes import nested_children, seed_volume
from org_ovirt_node.sizes import MiB
from org_ovirt_node.util.mounts import mounted


def sh(*cmd):
    return subprocess.run(cmd, check=True, text=True, stdout=subprocess.PIPE).stdout.strip()


@pytest.fixture
def loop_disk(tmp_path):
    """A 64 MiB loop device over a sparse file, detached afterwards."""
    path = tmp_path / "disk.img"
    with open(path, "wb") as handle:
        handle.truncate(64 * MiB)
    device = sh("losetup", "--find", "--show", str(path))
    yield device, path
    subprocess.run(["partx", "-d", device], check=False, stderr=subprocess.DEVNULL)
    subprocess.run(["losetup", "-d", device], check=False)


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_blank_disk_is_accepted(loop_disk):
    device, _ = loop_disk
    assert check_disk(device, wipe=False) == 64 * MiB


def test_dirty_disk_is_refused_and_unchanged(loop_disk):
    device, path = loop_disk
    sh("sgdisk", "--new=1:2048:+16M", device)
    sh("partprobe", device)
    before = digest(path)
    with pytest.raises(NodeError, match=r"not blank: it holds a gpt partition table.*--wipe"):
        check_disk(device, wipe=False)
    assert digest(path) == before
    assert check_disk(device, wipe=True) == 64 * MiB


def test_filesystem_signature_is_refused(loop_disk):
    device, _ = loop_disk
    sh("mkfs.ext4", "-q", device)
    with pytest.raises(NodeError, match="ext4"):
        check_disk(device, wipe=False)


def test_mounted_disk_is_refused_even_with_wipe(loop_disk):
    device, _ = loop_disk
    sh("mkfs.ext4", "-q", device)
    with mounted(device):
        with pytest.raises(NodeError, match="in use"):
            check_disk(device, wipe=True)


@pytest.mark.parametrize("path,fragment", [("/nonexistent/disk", "does not exist"),
                                           ("/etc/hostname", "not a block device")])
def test_not_a_disk(path, fragment):
    with pytest.raises(NodeError, match=fragment):
        check_disk(path, wipe=False)


def test_nested_children():
    points = ["/var", "/var/log", "/var/log/audit", "/var/tmp", "/home", "/variable"]
    assert nested_children("/var", points) == ["log", "log/audit", "tmp"]
    assert nested_children("/var/log", points) == ["audit"]
    assert nested_children("/home", points) == []


def test_seed_moves_content_and_keeps_nested_mount_points(tmp_path):
    root = tmp_path / "root"
    for directory in ("var/lib/app", "var/log/audit", "var/cache"):
        os.makedirs(root / directory)
    (root / "var/lib/app/state").write_text("state")
    (root / "var/log/messages").write_text("log")
    (root / "var/log/audit/audit.log").write_text("audit")
    os.chmod(root / "var/log/audit", 0o700)
    os.symlink("../lib/app/state", root / "var/cache/link")
    volumes = {}
    for name in ("var", "var_log"):
        volumes[name] = str(tmp_path / f"{name}.ext4")
        with open(volumes[name], "wb") as handle:
            handle.truncate(32 * MiB)
        sh("mkfs.ext4", "-q", volumes[name])
    points = ["/var", "/var/log", "/var/log/audit"]
    seed_volume(str(root), "/var", volumes["var"], points)
    with mounted(volumes["var"], options="ro") as target:
        assert open(os.path.join(target, "lib/app/state")).read() == "state"
        assert os.readlink(os.path.join(target, "cache/link")) == "../lib/app/state"
        # /var/log is another volume: only its mount point directory is here
        assert sorted(os.listdir(os.path.join(target, "log"))) == []
    # moved out of the layer, except what the nested volumes still need
    assert sorted(os.listdir(root / "var")) == ["log"]
    assert (root / "var/log/messages").read_text() == "log"
    seed_volume(str(root), "/var/log", volumes["var_log"], points)
    with mounted(volumes["var_log"], options="ro") as target:
        assert open(os.path.join(target, "messages")).read() == "log"
        assert os.listdir(os.path.join(target, "audit")) == []
        assert os.stat(os.path.join(target, "audit")).st_mode & 0o777 == 0o700
    assert (root / "var/log/audit/audit.log").read_text() == "audit"
    assert sorted(os.listdir(root / "var/log")) == ["audit"]
