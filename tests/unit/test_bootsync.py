"""util/bootsync.py: after a checkpoint, the disk itself says what was written.

GRUB reads /boot in place and never replays the journal, so the test reads
the filesystem's disk the same way (debugfs on the backing file, which holds
only what the loop device has written to it): right after a durable
write_atomic the disk still shows the old grub.cfg; after checkpoint() it
shows the new one.
"""

import os
import subprocess

import pytest

from org_ovirt_node.util import bootsync
from org_ovirt_node.util.atomic import write_atomic
from tests.support.images import needs_root

pytestmark = needs_root


@pytest.fixture
def boot(tmp_path):
    disk = tmp_path / "boot.img"
    with open(disk, "wb") as handle:
        handle.truncate(64 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(disk)], check=True)
    mount = tmp_path / "boot"
    mount.mkdir()
    subprocess.run(["mount", "-o", "loop", str(disk), str(mount)], check=True)
    try:
        yield disk, mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def on_disk(disk, path):
    """PATH's content as the disk holds it (no journal replay, no page cache of the fs)."""
    return subprocess.run(["debugfs", "-c", "-R", f"cat {path}", str(disk)],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          check=True).stdout


def test_a_checkpoint_puts_the_new_file_where_grub_reads_it(boot):
    disk, mount = boot
    cfg = os.path.join(mount, "grub2", "grub.cfg")
    write_atomic(cfg, b"menuentry old {}\n")
    assert bootsync.checkpoint(str(mount))
    assert on_disk(disk, "/grub2/grub.cfg") == b"menuentry old {}\n"
    write_atomic(cfg, b"menuentry new {}\n")
    # durable in the journal, but the disk's own blocks still say the old thing
    assert on_disk(disk, "/grub2/grub.cfg") != b"menuentry new {}\n"
    assert bootsync.checkpoint(str(mount))
    assert on_disk(disk, "/grub2/grub.cfg") == b"menuentry new {}\n"
    # thawed: the filesystem takes writes again
    write_atomic(cfg, b"menuentry newer {}\n")


def test_a_folder_that_is_no_mount_point_is_left_alone(tmp_path):
    assert bootsync.checkpoint(str(tmp_path)) is False
