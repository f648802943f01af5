"""A device mounted already (the running layer, its volumes) is found in mountinfo.

On a running node update and check mount the running layer and its volumes
again to read them; the kernel refuses a second ext4 mount with another
read-only flag, so util/mounts.py bind-mounts from where the device is.
"""

import glob
import os

import pytest

from org_ovirt_node.util.mounts import live_mount_point


def _block_device():
    for path in sorted(glob.glob("/dev/loop[0-9]*")) + sorted(glob.glob("/dev/[sv]d[a-z]")):
        if os.path.exists(path):
            return path
    pytest.skip("no block device node on this machine")


def _mountinfo(tmp_path, lines):
    path = tmp_path / "mountinfo"
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def test_a_device_mounted_whole_is_found_with_its_escaped_mount_point(tmp_path):
    device = _block_device()
    rdev = os.stat(device).st_rdev
    number = f"{os.major(rdev)}:{os.minor(rdev)}"
    info = _mountinfo(tmp_path, [
        "22 1 0:21 / /proc rw,nosuid shared:12 - proc proc rw",
        f"30 1 {number} /sub /elsewhere rw shared:1 - ext4 {device} rw",
        f"31 1 {number} / /var/lib/my\\040vms rw shared:1 - ext4 {device} rw",
    ])
    assert live_mount_point(device, info) == "/var/lib/my vms"


def test_a_device_mounted_only_in_part_or_not_at_all_is_not_live(tmp_path):
    device = _block_device()
    rdev = os.stat(device).st_rdev
    info = _mountinfo(tmp_path, [
        f"30 1 {os.major(rdev)}:{os.minor(rdev)} /sub /elsewhere rw - ext4 {device} rw"])
    assert live_mount_point(device, info) is None
    assert live_mount_point(str(tmp_path / "missing"), info) is None
    assert live_mount_point(str(tmp_path), info) is None      # not a block device
