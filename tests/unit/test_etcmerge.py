"""The /etc three-way merge on real trees: owners, modes, xattrs, ACLs, links and devices."""

import os
import stat
import subprocess

import pytest

from org_ovirt_node.errors import NodeError
from org_ovirt_node.lifecycle.etcmerge import MergeItem, apply_merge, plan_merge
from org_ovirt_node.util.fscopy import CHUNK
from tests.support.fstrees import metadata, read, write


class Trees:
    """OLD, LOCAL and NEW /etc trees under one directory, and the merge into TARGET."""

    def __init__(self, base):
        self.base = base
        self.old, self.local, self.new = (str(base / name) for name in ("old", "local", "new"))
        self.target = str(base / "target")
        for root in (self.old, self.local, self.new):
            os.mkdir(root)

    def everywhere(self, path, data=b"x\n"):
        """The same file in OLD, LOCAL and NEW."""
        for root in (self.old, self.local, self.new):
            write(os.path.join(root, path), data)

    def plan(self):
        return {item.path: item for item in plan_merge(self.old, self.local, self.new)}

    def start_target(self):
        """TARGET as the new layer starts: a copy of NEW with all metadata."""
        subprocess.run(["cp", "-a", self.new, self.target], check=True)

    def merge(self):
        """Plan, copy NEW to TARGET, apply; return (items by path, conflicts)."""
        items = plan_merge(self.old, self.local, self.new)
        self.start_target()
        conflicts = apply_merge(items, self.local, self.new, self.target)
        return {item.path: item for item in items}, conflicts

    def at(self, root, path):
        return os.path.join(getattr(self, root), path)


@pytest.fixture
def trees(tmp_path):
    return Trees(tmp_path)


def actions(items):
    return {path: item.action for path, item in items.items()}


def test_local_change_is_kept(trees):
    trees.everywhere("hosts")
    write(trees.at("local", "hosts"), b"10.0.0.1 engine\n")
    items, conflicts = trees.merge()
    assert actions(items) == {"hosts": "keep-local"}
    assert items["hosts"].reason == "changed locally"
    assert read(trees.at("target", "hosts")) == b"10.0.0.1 engine\n"
    assert metadata(trees.at("target", "hosts")) == metadata(trees.at("local", "hosts"))
    assert conflicts == []


def test_local_addition_is_kept(trees):
    write(trees.at("local", "motd"), b"hello\n")
    items, _ = trees.merge()
    assert items["motd"] == MergeItem("motd", "keep-local", "added locally")
    assert read(trees.at("target", "motd")) == b"hello\n"


def test_image_only_changes_are_taken_and_reported(trees):
    trees.everywhere("chrony.conf", b"pool a\n")
    trees.everywhere("gone.conf")
    write(trees.at("new", "chrony.conf"), b"pool b\n")
    os.unlink(trees.at("new", "gone.conf"))
    write(trees.at("new", "added.conf"), b"new\n")
    items, conflicts = trees.merge()
    assert actions(items) == {"added.conf": "add-new", "chrony.conf": "take-new",
                              "gone.conf": "remove-new"}
    assert read(trees.at("target", "chrony.conf")) == b"pool b\n"
    assert not os.path.lexists(trees.at("target", "gone.conf"))
    assert conflicts == []


def test_change_on_both_sides_is_a_conflict_with_imgnew(trees):
    trees.everywhere("ssh/sshd_config", b"old\n")
    write(trees.at("local", "ssh/sshd_config"), b"local\n")
    new_file = trees.at("new", "ssh/sshd_config")
    write(new_file, b"new\n")
    os.chown(new_file, 0, 74)
    os.chmod(new_file, 0o640)
    os.setxattr(new_file, "trusted.origin", b"image")
    items, conflicts = trees.merge()
    assert conflicts == ["ssh/sshd_config"]
    assert items["ssh/sshd_config"].reason == \
        "changed in the image and locally: local kept, new as .imgnew"
    assert read(trees.at("target", "ssh/sshd_config")) == b"local\n"
    imgnew = trees.at("target", "ssh/sshd_config.imgnew")
    assert read(imgnew) == b"new\n"
    assert metadata(imgnew) == metadata(new_file)


def test_identical_changes_on_both_sides_need_nothing(trees):
    trees.everywhere("resolv.conf", b"old\n")
    write(trees.at("local", "resolv.conf"), b"same\n")
    write(trees.at("new", "resolv.conf"), b"same\n")
    assert trees.plan() == {}


def test_local_deletion_stays_deleted(trees):
    trees.everywhere("cron.deny")
    os.unlink(trees.at("local", "cron.deny"))
    items, conflicts = trees.merge()
    assert actions(items) == {"cron.deny": "delete-local"}
    assert not os.path.lexists(trees.at("target", "cron.deny"))
    assert conflicts == []


def test_local_deletion_of_a_file_the_image_changed_is_a_conflict(trees):
    trees.everywhere("cron.deny", b"old\n")
    os.unlink(trees.at("local", "cron.deny"))
    write(trees.at("new", "cron.deny"), b"new\n")
    items, conflicts = trees.merge()
    assert conflicts == ["cron.deny"]
    assert "stays deleted, new as .imgnew" in items["cron.deny"].reason
    assert not os.path.lexists(trees.at("target", "cron.deny"))
    assert read(trees.at("target", "cron.deny.imgnew")) == b"new\n"


def test_local_change_of_a_file_the_image_removed_is_kept(trees):
    trees.everywhere("legacy.conf", b"old\n")
    write(trees.at("local", "legacy.conf"), b"mine\n")
    os.unlink(trees.at("new", "legacy.conf"))
    items, conflicts = trees.merge()
    assert conflicts == ["legacy.conf"]
    assert items["legacy.conf"].reason == "changed locally and removed in the image: local kept"
    assert read(trees.at("target", "legacy.conf")) == b"mine\n"


def _chown(path):
    os.chown(path, 1234, 5678)


def _chmod(path):
    os.chmod(path, 0o600)


def _user_xattr(path):
    os.setxattr(path, "user.note", b"admin")


def _trusted_xattr(path):
    os.setxattr(path, "trusted.overlay", b"y")


def _acl(path):
    subprocess.run(["setfacl", "-m", "u:1234:r", path], check=True)


@pytest.mark.parametrize("change", [_chown, _chmod, _user_xattr, _trusted_xattr, _acl])
def test_metadata_only_local_changes_count_and_are_kept(trees, change):
    trees.everywhere("sudoers")
    change(trees.at("local", "sudoers"))
    items, _ = trees.merge()
    assert actions(items) == {"sudoers": "keep-local"}
    assert metadata(trees.at("target", "sudoers")) == metadata(trees.at("local", "sudoers"))


@pytest.mark.parametrize("change", [_chown, _chmod, _user_xattr, _acl])
def test_metadata_changes_on_both_sides_conflict(trees, change):
    trees.everywhere("keytab")
    os.chmod(trees.at("new", "keytab"), 0o000)
    change(trees.at("local", "keytab"))
    items, conflicts = trees.merge()
    assert conflicts == ["keytab"]
    assert metadata(trees.at("target", "keytab")) == metadata(trees.at("local", "keytab"))
    assert metadata(trees.at("target", "keytab.imgnew")) == metadata(trees.at("new", "keytab"))


def test_symlink_changes(trees):
    for root in (trees.old, trees.local, trees.new):
        os.symlink("../usr/share/zoneinfo/UTC", os.path.join(root, "localtime"))
        os.symlink("/usr/lib/os-release", os.path.join(root, "os-release"))
    os.unlink(trees.at("local", "localtime"))
    os.symlink("../usr/share/zoneinfo/Europe/Prague", trees.at("local", "localtime"))
    os.unlink(trees.at("new", "os-release"))
    os.symlink("../usr/lib/os-release", trees.at("new", "os-release"))
    items, _ = trees.merge()
    assert actions(items) == {"localtime": "keep-local", "os-release": "take-new"}
    assert os.readlink(trees.at("target", "localtime")) == "../usr/share/zoneinfo/Europe/Prague"
    assert os.readlink(trees.at("target", "os-release")) == "../usr/lib/os-release"


def test_symlink_conflict_keeps_local_without_imgnew(trees):
    for root, goal in ((trees.old, "a"), (trees.local, "b"), (trees.new, "c")):
        os.symlink(goal, os.path.join(root, "alternative"))
    _, conflicts = trees.merge()
    assert conflicts == ["alternative"]
    assert os.readlink(trees.at("target", "alternative")) == "b"
    assert not os.path.lexists(trees.at("target", "alternative.imgnew"))


def test_locally_added_directory_is_copied_whole(trees):
    added = trees.at("local", "pki/custom")
    write(os.path.join(added, "sub/ca.pem"), b"cert\n")
    os.symlink("sub/ca.pem", os.path.join(added, "current"))
    os.chown(os.path.join(added, "sub"), 1234, 1234)
    os.chmod(os.path.join(added, "sub"), 0o750)
    subprocess.run(["setfacl", "-d", "-m", "u:1234:rx", added], check=True)
    for root in (trees.old, trees.local, trees.new):
        os.makedirs(os.path.join(root, "pki"), exist_ok=True)
        # what TARGET creates below pki would inherit this; the copy must not
        subprocess.run(["setfacl", "-d", "-m", "g:4321:r", os.path.join(root, "pki")], check=True)
    items, _ = trees.merge()
    assert actions(items) == {"pki/custom": "keep-local"}
    assert items["pki/custom"].reason == "added locally: directory copied whole"
    for path in ("pki/custom", "pki/custom/sub", "pki/custom/sub/ca.pem",
                 "pki/custom/current"):
        assert metadata(trees.at("target", path)) == metadata(trees.at("local", path)), path
    assert read(trees.at("target", "pki/custom/current")) == b"cert\n"


def test_directory_metadata_change_is_kept_and_image_content_merged_inside(trees):
    for root in (trees.old, trees.local, trees.new):
        os.makedirs(os.path.join(root, "audit/rules.d"))
    write(trees.at("new", "audit/rules.d/new.rules"), b"-w /etc\n")
    write(trees.at("local", "audit/rules.d/site.rules"), b"-w /var\n")
    directory = trees.at("local", "audit/rules.d")
    os.chmod(directory, 0o700)
    os.chown(directory, 0, 1234)
    os.utime(directory, ns=(1, 1_000_000_000))
    items, _ = trees.merge()
    assert actions(items) == {"audit/rules.d": "keep-local",
                              "audit/rules.d/new.rules": "add-new",
                              "audit/rules.d/site.rules": "keep-local"}
    assert metadata(trees.at("target", "audit/rules.d")) == metadata(directory)
    assert sorted(os.listdir(trees.at("target", "audit/rules.d"))) == ["new.rules", "site.rules"]


def test_image_replacing_a_directory_keeps_local_changes_inside_it(trees):
    for root in (trees.old, trees.local):
        write(os.path.join(root, "foo.d/a.conf"), b"a\n")
    write(trees.at("new", "foo.d"), b"now a file\n")
    write(trees.at("local", "foo.d/mine.conf"), b"mine\n")
    items, conflicts = trees.merge()
    assert actions(items) == {"foo.d": "conflict"}
    assert conflicts == ["foo.d"]
    assert sorted(os.listdir(trees.at("target", "foo.d"))) == ["a.conf", "mine.conf"]
    assert read(trees.at("target", "foo.d.imgnew")) == b"now a file\n"


def test_image_replacing_an_untouched_directory_is_taken(trees):
    for root in (trees.old, trees.local):
        write(os.path.join(root, "foo.d/a.conf"), b"a\n")
    write(trees.at("new", "foo.d"), b"now a file\n")
    items, _ = trees.merge()
    assert actions(items) == {"foo.d": "take-new"}
    assert read(trees.at("target", "foo.d")) == b"now a file\n"


def test_locally_deleted_directory_stays_deleted_even_if_the_image_added_inside(trees):
    for root in (trees.old, trees.new):
        write(os.path.join(root, "yum.repos.d/base.repo"), b"base\n")
    write(trees.at("new", "yum.repos.d/extra.repo"), b"extra\n")
    items, conflicts = trees.merge()
    assert conflicts == ["yum.repos.d"]
    assert items["yum.repos.d"].reason == "deleted locally and changed in the image: stays deleted"
    assert not os.path.lexists(trees.at("target", "yum.repos.d"))


def test_devices_and_fifos_are_compared_and_recreated(trees):
    for root in (trees.old, trees.local, trees.new):
        os.mknod(os.path.join(root, "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.mkfifo(os.path.join(root, "initctl"), 0o600)
    os.unlink(trees.at("local", "null"))
    os.mknod(trees.at("local", "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    os.chown(trees.at("local", "initctl"), 1234, 1234)
    os.mkfifo(trees.at("local", "added.fifo"), 0o640)
    items, _ = trees.merge()
    assert actions(items) == {"added.fifo": "keep-local", "initctl": "keep-local",
                              "null": "keep-local"}
    assert os.lstat(trees.at("target", "null")).st_rdev == os.makedev(1, 5)
    for path in ("null", "initctl", "added.fifo"):
        assert metadata(trees.at("target", path)) == metadata(trees.at("local", path))


def test_non_regular_conflict_has_no_imgnew(trees):
    for root, mode in ((trees.old, 0o600), (trees.local, 0o640), (trees.new, 0o644)):
        os.mkfifo(os.path.join(root, "pipe"), mode)
    _, conflicts = trees.merge()
    assert conflicts == ["pipe"]
    assert stat.S_IMODE(os.lstat(trees.at("target", "pipe")).st_mode) == 0o640
    assert not os.path.lexists(trees.at("target", "pipe.imgnew"))


def test_contents_are_compared_past_the_first_chunk(trees):
    big = b"a" * CHUNK + b"tail\n"
    trees.everywhere("big.conf", big)
    write(trees.at("local", "big.conf"), b"a" * CHUNK + b"TAIL\n")
    assert actions(trees.plan()) == {"big.conf": "keep-local"}


def test_a_symlink_planted_in_target_is_replaced_not_written_through(trees, tmp_path):
    outside = tmp_path / "outside.conf"
    outside.write_bytes(b"do not touch\n")
    trees.everywhere("hosts")
    write(trees.at("local", "hosts"), b"local\n")
    items = plan_merge(trees.old, trees.local, trees.new)
    trees.start_target()
    os.unlink(trees.at("target", "hosts"))
    os.symlink(outside, trees.at("target", "hosts"))
    apply_merge(items, trees.local, trees.new, trees.target)
    assert outside.read_bytes() == b"do not touch\n"
    assert read(trees.at("target", "hosts")) == b"local\n"
    assert not os.path.islink(trees.at("target", "hosts"))


def test_a_symlinked_directory_in_target_is_refused(trees, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.conf").write_bytes(b"do not touch\n")
    trees.everywhere("sub/x.conf")
    write(trees.at("local", "sub/x.conf"), b"local\n")
    items = plan_merge(trees.old, trees.local, trees.new)
    trees.start_target()
    subprocess.run(["rm", "-r", trees.at("target", "sub")], check=True)
    os.symlink(outside, trees.at("target", "sub"))
    with pytest.raises(NodeError, match="symlink is never written through"):
        apply_merge(items, trees.local, trees.new, trees.target)
    assert (outside / "x.conf").read_bytes() == b"do not touch\n"
    assert os.listdir(outside) == ["x.conf"]


def test_symlinks_in_the_inputs_are_not_followed(trees, tmp_path):
    outside = tmp_path / "outside"
    write(str(outside / "x.conf"), b"outside\n")
    os.makedirs(trees.at("old", "d"))
    os.symlink(outside, trees.at("local", "d"))
    os.makedirs(trees.at("new", "d"))
    items, _ = trees.merge()
    assert actions(items) == {"d": "keep-local"}
    assert os.readlink(trees.at("target", "d")) == str(outside)


def test_plan_items_are_sorted_and_serialisable(trees):
    for name in ("b", "a", "a.d/x", "c"):
        write(trees.at("local", name), b"1\n")
    items = plan_merge(trees.old, trees.local, trees.new)
    assert [item.path for item in items] == sorted(item.path for item in items)
    assert items[0].to_dict() == {"path": "a", "action": "keep-local", "reason": "added locally"}
    with pytest.raises(AttributeError):
        items[0].action = "conflict"


def test_a_missing_tree_is_one_clear_error(trees):
    with pytest.raises(NodeError, match="not a directory"):
        plan_merge(trees.old, trees.local, trees.at("new", "absent"))
