"""Units across an update: the three-way /etc merge of systemctl's symlinks.

`systemctl enable` and `mask` are symlinks under /etc/systemd/system; the
image's defaults are the old base's links (OLD), the node's choices the
running layer's (LOCAL), the new defaults the new image's (NEW). These tests
prove the rules: a unit the admin disabled stays disabled, one they enabled
stays enabled, one the new image enables by default is enabled (also when
a side has no .wants directory at all: systemctl removes it with its last
link), masks likewise. Debian's images enable units in the image build;
they do not run `systemctl preset` at boot, so there is no preset step to
carry.
"""

import os

import pytest

from org_ovirt_node.lifecycle import etcmerge
from tests.unit.test_etcmerge import Trees

WANTS = "systemd/system/multi-user.target.wants"
LIB = "/lib/systemd/system"


def link(root, path, target=None):
    path = os.path.join(root, path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink(target or f"{LIB}/{os.path.basename(path)}", path)


def enabled(trees, root, name, where=WANTS):
    return os.path.islink(os.path.join(getattr(trees, root), where, name))


@pytest.fixture
def trees(tmp_path):
    trees = Trees(tmp_path)
    for root in (trees.old, trees.local, trees.new):
        os.makedirs(os.path.join(root, "systemd/system"))
    return trees


def test_the_three_rules_and_the_images_dropped_default(trees):
    for root in (trees.old, trees.local, trees.new):
        link(root, f"{WANTS}/ssh.service")
    for root in (trees.old, trees.new):
        link(root, f"{WANTS}/cron.service")           # the admin disables cron
    link(trees.local, f"{WANTS}/nfs-server.service")  # the admin enables nfs-server
    link(trees.new, f"{WANTS}/chrony.service")        # the new image enables chrony
    for root in (trees.old, trees.local):
        link(root, f"{WANTS}/old-default.service")    # the new image no longer does
    items, conflicts = trees.merge()
    assert conflicts == []
    assert enabled(trees, "target", "ssh.service")
    assert not enabled(trees, "target", "cron.service")
    assert enabled(trees, "target", "nfs-server.service")
    assert enabled(trees, "target", "chrony.service")
    assert not enabled(trees, "target", "old-default.service")
    assert items[f"{WANTS}/cron.service"].action == etcmerge.DELETE_LOCAL
    assert items[f"{WANTS}/nfs-server.service"].action == etcmerge.KEEP_LOCAL
    assert items[f"{WANTS}/chrony.service"].action == etcmerge.ADD_NEW


def test_masks_and_unmasks_stay_the_admins(trees):
    link(trees.local, "systemd/system/bluetooth.service", "/dev/null")     # masked here
    for root in (trees.old, trees.new):
        link(root, "systemd/system/rpcbind.service", "/dev/null")         # unmasked here
    link(trees.new, "systemd/system/debug-shell.service", "/dev/null")    # the image masks
    _, conflicts = trees.merge()
    assert conflicts == []
    target = os.path.join(trees.target, "systemd/system")
    assert os.readlink(os.path.join(target, "bluetooth.service")) == "/dev/null"
    assert not os.path.lexists(os.path.join(target, "rpcbind.service"))
    assert os.readlink(os.path.join(target, "debug-shell.service")) == "/dev/null"


def test_a_target_whose_last_unit_the_admin_disabled_still_gets_the_new_default(trees):
    """systemctl disable removed the emptied .wants directory on the node."""
    timers = "systemd/system/timers.target.wants"
    link(trees.old, f"{timers}/apt-daily.timer")
    link(trees.new, f"{timers}/apt-daily.timer")
    link(trees.new, f"{timers}/fstrim.timer")
    _, conflicts = trees.merge()
    assert conflicts == []
    assert not enabled(trees, "target", "apt-daily.timer", timers)
    assert enabled(trees, "target", "fstrim.timer", timers)


def test_a_target_the_new_image_enables_nothing_in_keeps_the_admins_units(trees):
    sockets = "systemd/system/sockets.target.wants"
    for root in (trees.old, trees.local):
        link(root, f"{sockets}/old.socket")
    link(trees.local, f"{sockets}/mine.socket")
    os.chmod(os.path.join(trees.local, sockets), 0o750)
    _, conflicts = trees.merge()
    assert conflicts == []
    assert sorted(os.listdir(os.path.join(trees.target, sockets))) == ["mine.socket"]
    assert os.stat(os.path.join(trees.target, sockets)).st_mode & 0o777 == 0o750


def test_a_unit_file_the_admin_wrote_is_kept(trees):
    path = os.path.join(trees.local, "systemd/system/backup.service")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("[Service]\nExecStart=/usr/local/bin/backup\n")
    link(trees.local, f"{WANTS}/backup.service", "/etc/systemd/system/backup.service")
    trees.merge()
    assert os.path.isfile(os.path.join(trees.target, "systemd/system/backup.service"))
    assert enabled(trees, "target", "backup.service")


def test_enable_and_disable_between_update_and_reboot_are_carried(trees):
    """finalize's merge again: the link sets are merged link by link there too."""
    timers = "systemd/system/timers.target.wants"
    for root in (trees.old, trees.local, trees.new):
        link(root, f"{timers}/apt-daily.timer")
    trees.merge()
    os.unlink(os.path.join(trees.local, timers, "apt-daily.timer"))
    os.rmdir(os.path.join(trees.local, timers))
    link(trees.local, "systemd/system/sockets.target.wants/mine.socket")
    written, conflicts = etcmerge.remerge(
        trees.old, trees.local, trees.new, trees.target,
        [timers, f"{timers}/apt-daily.timer", "systemd/system/sockets.target.wants",
         "systemd/system/sockets.target.wants/mine.socket"])
    assert conflicts == []
    assert not enabled(trees, "target", "apt-daily.timer", timers)
    assert enabled(trees, "target", "mine.socket", "systemd/system/sockets.target.wants")
