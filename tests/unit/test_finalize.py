"""`ovirt-node finalize`: the /etc manifest, what changed since, and the merge again.

Plain directories stand for the old base's /etc (OLD), the live /etc (LOCAL),
the new image's (NEW) and the new layer's (TARGET, as the update's merge
left it). Mounting the LVs is the VM tests' part.
"""

import json
import os

import pytest

from org_ovirt_node.errors import NodeError
from org_ovirt_node.lifecycle import etcmerge, finalize
from tests.support.fstrees import read, write
from tests.unit.test_etcmerge import Trees

LAYER, FROM = "node-4.5.6-0.1+1", "node-4.5.5-0.1+1"


class Staged(Trees):
    """Trees merged as the update does, then the manifest the update records."""

    def update(self):
        self.merge()
        self.manifest = finalize.manifest(self.local)

    def finalize(self):
        """The changed paths since update(), merged again into TARGET."""
        changed = finalize.changed_paths(self.manifest, finalize.manifest(self.local))
        written, conflicts = etcmerge.remerge(self.old, self.local, self.new, self.target,
                                              changed)
        return changed, dict(written), conflicts

    def target_has(self, path):
        return os.path.lexists(self.at("target", path))


@pytest.fixture
def trees(tmp_path):
    staged = Staged(tmp_path)
    staged.everywhere("hosts", b"127.0.0.1 localhost\n")
    staged.everywhere("motd", b"hello\n")
    staged.everywhere("conf.d/a.conf", b"a=1\n")
    return staged


def test_manifest_signs_every_entry_without_following_links(tmp_path):
    write(str(tmp_path / "etc/a/b"), b"12345")
    os.symlink("/nowhere", tmp_path / "etc/link")
    os.symlink("a", tmp_path / "etc/dirlink")
    found = finalize.manifest(str(tmp_path / "etc"))
    assert sorted(found) == ["a", "a/b", "dirlink", "link"]
    kind, mode, uid, gid, size, mtime_ns, target = found["a/b"]
    assert (kind, mode, size, target) == ("f", 0o644 & ~0o022 | mode & 0o022, 5, None)
    assert (uid, gid) == (os.getuid(), os.getgid()) and mtime_ns > 0
    assert found["link"][0] == "l" and found["link"][6] == "/nowhere"
    assert found["a"][0] == "d"
    assert json.loads(json.dumps(found)) == found        # what the record stores


def test_changed_paths_are_added_removed_and_changed():
    before = {"a": ["f", 0o644, 0, 0, 1, 10, None], "b": ["f", 0o644, 0, 0, 1, 10, None],
              "c": ["l", 0o777, 0, 0, 1, 10, "x"]}
    after = {"a": ["f", 0o644, 0, 0, 1, 10, None], "c": ["l", 0o777, 0, 0, 1, 10, "y"],
             "d": ["d", 0o755, 0, 0, 4096, 10, None]}
    assert finalize.changed_paths(before, after) == ["b", "c", "d"]
    assert finalize.changed_paths(before, before) == []


def test_nothing_changed(trees):
    trees.update()
    assert trees.finalize() == ([], {}, [])


def test_an_edit_after_the_update_is_carried(trees):
    trees.update()
    write(trees.at("local", "hosts"), b"127.0.0.1 localhost\n10.0.0.1 engine\n")
    changed, written, conflicts = trees.finalize()
    assert changed == ["hosts"] and written == {"hosts": etcmerge.KEEP_LOCAL}
    assert conflicts == []
    assert read(trees.at("target", "hosts")) == b"127.0.0.1 localhost\n10.0.0.1 engine\n"
    assert read(trees.at("target", "motd")) == b"hello\n"


def test_an_added_file_and_directory_are_carried(trees):
    trees.update()
    write(trees.at("local", "conf.d/b.conf"), b"b=2\n")
    write(trees.at("local", "mine/deep/x"), b"x\n")
    _, written, _ = trees.finalize()
    assert written == {"conf.d/b.conf": etcmerge.KEEP_LOCAL, "mine": etcmerge.KEEP_LOCAL}
    assert read(trees.at("target", "conf.d/b.conf")) == b"b=2\n"
    assert read(trees.at("target", "conf.d/a.conf")) == b"a=1\n"
    assert read(trees.at("target", "mine/deep/x")) == b"x\n"


def test_a_file_added_into_a_directory_the_update_copied_whole_is_carried(trees):
    write(trees.at("local", "mine/one"), b"1\n")
    trees.update()
    assert read(trees.at("target", "mine/one")) == b"1\n"
    write(trees.at("local", "mine/two"), b"2\n")
    os.unlink(trees.at("local", "mine/one"))
    _, written, _ = trees.finalize()
    assert written == {"mine": etcmerge.KEEP_LOCAL}
    assert sorted(os.listdir(trees.at("target", "mine"))) == ["two"]


def test_a_deletion_after_the_update_is_carried(trees):
    trees.update()
    os.unlink(trees.at("local", "motd"))
    _, written, _ = trees.finalize()
    assert written == {"motd": etcmerge.DELETE_LOCAL}
    assert not trees.target_has("motd")


def test_a_removed_local_directory_goes_from_the_target(trees):
    write(trees.at("local", "mine/one"), b"1\n")
    trees.update()
    os.unlink(trees.at("local", "mine/one"))
    os.rmdir(trees.at("local", "mine"))
    trees.finalize()
    assert not trees.target_has("mine")


def test_a_deletion_the_image_changed_stays_deleted_with_imgnew(trees):
    write(trees.at("new", "motd"), b"welcome to the new image\n")
    trees.update()
    os.unlink(trees.at("local", "motd"))
    _, written, conflicts = trees.finalize()
    assert written == {"motd": etcmerge.CONFLICT} and conflicts == ["motd"]
    assert not trees.target_has("motd")
    assert read(trees.at("target", "motd.imgnew")) == b"welcome to the new image\n"


def test_an_edit_of_a_file_the_image_changed_is_a_conflict(trees):
    write(trees.at("new", "hosts"), b"127.0.0.1 localhost new\n")
    trees.update()
    assert read(trees.at("target", "hosts")) == b"127.0.0.1 localhost new\n"
    write(trees.at("local", "hosts"), b"127.0.0.1 localhost\n10.0.0.1 engine\n")
    _, _, conflicts = trees.finalize()
    assert conflicts == ["hosts"]
    assert read(trees.at("target", "hosts")) == b"127.0.0.1 localhost\n10.0.0.1 engine\n"
    assert read(trees.at("target", "hosts.imgnew")) == b"127.0.0.1 localhost new\n"


def test_an_edit_undone_after_the_update_takes_the_images_version_again(trees):
    write(trees.at("new", "hosts"), b"127.0.0.1 localhost new\n")
    write(trees.at("local", "hosts"), b"127.0.0.1 localhost mine\n")
    trees.update()
    assert read(trees.at("target", "hosts.imgnew")) == b"127.0.0.1 localhost new\n"
    write(trees.at("local", "hosts"), b"127.0.0.1 localhost\n")      # back to the old image's
    _, written, conflicts = trees.finalize()
    assert written == {"hosts": etcmerge.TAKE_NEW} and conflicts == []
    assert read(trees.at("target", "hosts")) == b"127.0.0.1 localhost new\n"
    assert not trees.target_has("hosts.imgnew")


def test_a_symlink_retargeted_after_the_update_is_carried(trees):
    for root in ("old", "local", "new"):
        os.symlink("motd", trees.at(root, "issue"))
    trees.update()
    os.unlink(trees.at("local", "issue"))
    os.symlink("hosts", trees.at("local", "issue"))
    changed, written, _ = trees.finalize()
    assert changed == ["issue"] and written == {"issue": etcmerge.KEEP_LOCAL}
    assert os.readlink(trees.at("target", "issue")) == "hosts"


def test_a_mode_change_after_the_update_is_carried(trees):
    trees.update()
    os.chmod(trees.at("local", "hosts"), 0o600)
    trees.finalize()
    assert os.stat(trees.at("target", "hosts")).st_mode & 0o777 == 0o600


class FakeNode:
    """What finalize() asks of a node, without LVM."""

    def __init__(self, boot, running=FROM, default=LAYER, layers=(LAYER, FROM),
                 bases=("node-4.5.5-0.1", "node-4.5.6-0.1")):
        self.boot, self.running, self._default = str(boot), running, default
        self._layers, self._bases = list(layers), list(bases)

    def default_layer(self):
        return self._default

    def layers(self):
        return {layer: layer[:-2] for layer in self._layers}

    def bases(self):
        return self._bases

    def make_writable(self):
        pass


def stage(boot, etc):
    finalize.stage(str(boot), LAYER, "node-4.5.6-0.1", FROM, "node-4.5.5-0.1",
                   finalize.manifest(str(etc)))


def test_no_record_is_nothing_to_do(tmp_path):
    result = finalize.finalize(FakeNode(tmp_path), str(tmp_path))
    assert result["action"] == "none" and "nothing to do" in result["reason"]


@pytest.mark.parametrize("changes, why", [
    ({"running": LAYER}, f"made from {FROM}, but {LAYER} is running"),
    ({"default": FROM}, f"the boot default is now {FROM}, not {LAYER}"),
    ({"layers": (FROM,), "default": LAYER}, f"the layer {LAYER} is gone"),
    ({"bases": ("node-4.5.5-0.1",)}, "is gone"),
])
def test_a_record_that_no_longer_fits_is_dropped(tmp_path, changes, why):
    etc = tmp_path / "etc"
    write(str(etc / "hosts"))
    stage(tmp_path, etc)
    result = finalize.finalize(FakeNode(tmp_path, **changes), str(etc))
    assert result["action"] == "dropped" and why in result["reason"]
    assert finalize.read_record(str(tmp_path)) is None


def test_an_unchanged_etc_only_drops_the_record(tmp_path):
    etc = tmp_path / "etc"
    write(str(etc / "hosts"))
    stage(tmp_path, etc)
    record = json.loads((tmp_path / "ovirt-node/finalize.json").read_text())
    assert record["layer"] == LAYER and record["from_layer"] == FROM
    assert record["nvr"] == "node-4.5.6-0.1" and record["old_base"] == "node-4.5.5-0.1"
    assert list(record["manifest"]) == ["hosts"]
    result = finalize.finalize(FakeNode(tmp_path), str(etc))
    assert result["action"] == "unchanged"
    assert not (tmp_path / "ovirt-node/finalize.json").exists()


def test_a_damaged_record_is_one_clear_error(tmp_path):
    (tmp_path / "ovirt-node").mkdir()
    (tmp_path / "ovirt-node/finalize.json").write_text('{"layer": 1}')
    with pytest.raises(NodeError, match="not a staged-update record; remove it"):
        finalize.finalize(FakeNode(tmp_path), str(tmp_path))


def test_an_online_update_stages_the_record_and_starts_the_unit(tmp_path, monkeypatch):
    from org_ovirt_node.lifecycle import update  # pylint: disable=import-outside-toplevel
    calls = []
    monkeypatch.setattr(update, "run", lambda cmd, check: calls.append(cmd) or
                        type("Done", (), {"returncode": 0, "stderr": ""})())
    monkeypatch.setattr(update.os.path, "isdir", lambda path: path == "/run/systemd/system")
    plan = type("Plan", (), {"layer": LAYER, "nvr": "node-4.5.6-0.1", "from_layer": FROM,
                             "etc_manifest": {"hosts": ["f", 0o644, 0, 0, 1, 1, None]}})()
    update._stage_finalize(FakeNode(tmp_path), plan)
    assert calls == [["systemctl", "start", "ovirt-node-finalize.service"]]
    record = finalize.read_record(str(tmp_path))
    assert record == {"layer": LAYER, "nvr": "node-4.5.6-0.1", "from_layer": FROM,
                      "old_base": FROM[:-2], "manifest": plan.etc_manifest}
    plan.etc_manifest = None            # the merge read another default's /etc
    update._stage_finalize(FakeNode(tmp_path), plan)
    assert finalize.read_record(str(tmp_path)) is None
