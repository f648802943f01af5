"""Boot counting, node state and preflight arithmetic on real /boot trees.

These parts need no LVM: boot-ok runs on a booted node with only /boot, and
the preflight's space and version rules are plain arithmetic over numbers
LVM reports. The LVM side is proven in tests/vm/test_lifecycle_vm.py.
"""

import json
import os

import pytest

from org_ovirt_node.errors import NodeError
from org_ovirt_node.lifecycle import bootcount, preflight
from org_ovirt_node.lifecycle.node import Node
from org_ovirt_node.lifecycle.state import NodeState, load_state, save_state
from org_ovirt_node.sizes import GiB, MiB
from org_ovirt_node.util.bls import BlsEntry
from org_ovirt_node.util.grubenv import parse_grubenv, render_grubenv

A, B = "node-4.5.5-0.1+1", "node-4.5.6-0.1+1"


def make_boot(tmp_path, env):
    """A /boot with entries for layers A and B and grubenv ENV."""
    boot = tmp_path / "boot"
    (boot / "loader/entries").mkdir(parents=True)
    (boot / "grub2").mkdir()
    for layer in (A, B):
        (boot / layer).mkdir()
        for name in ("vmlinuz-6.1", "initramfs-6.1.img"):
            (boot / layer / name).write_bytes(b"x")
        entry = BlsEntry(entry_id=f"{layer}-6.1", title=f"{layer[:-2]} (6.1)", version="6.1",
                         linux=f"/{layer}/vmlinuz-6.1", initrd=f"/{layer}/initramfs-6.1.img",
                         options=f"root=/dev/onn/{layer} img.bootid={layer}")
        (boot / "loader/entries" / entry.filename).write_text(entry.render())
    (boot / "grub2/grubenv").write_bytes(render_grubenv(env))
    return boot


def grubenv(boot):
    return parse_grubenv((boot / "grub2/grubenv").read_bytes())


def test_boot_ok_on_the_new_layer_clears_the_counter(tmp_path):
    boot = make_boot(tmp_path, bootcount.armed({}, f"{B}-6.1", f"{A}-6.1", 3))
    result = bootcount.boot_ok(Node(None, str(boot), B))
    assert grubenv(boot) == {"saved_entry": f"{B}-6.1"}
    assert result == {"running": B, "marked_bad": None, "default": B}
    assert load_state(str(boot)).last_known_good == B


def test_boot_ok_on_the_fallback_marks_the_new_layer_bad(tmp_path):
    env = bootcount.armed({}, f"{B}-6.1", f"{A}-6.1", 3)
    env["boot_counter"] = "0"                           # GRUB used up the tries
    boot = make_boot(tmp_path, env)
    node = Node(None, str(boot), A)
    assert bootcount.failed_default(node) == B
    result = bootcount.boot_ok(node)
    assert result["marked_bad"] == B and result["default"] == A
    assert grubenv(boot) == {"saved_entry": f"{A}-6.1"}
    state = load_state(str(boot))
    assert state.bad == [B] and state.last_known_good == A


def test_boot_ok_while_tries_are_left_on_another_layer_changes_no_default(tmp_path):
    env = bootcount.armed({}, f"{B}-6.1", f"{A}-6.1", 3)
    boot = make_boot(tmp_path, env)
    bootcount.boot_ok(Node(None, str(boot), A))       # picked A from the menu
    assert grubenv(boot) == env


def test_saved_entry_may_be_a_title(tmp_path):
    """imgbased and grubby write the entry title into saved_entry."""
    boot = make_boot(tmp_path, {"saved_entry": f"{A[:-2]} (6.1)"})
    assert Node(None, str(boot)).default_layer() == A


def test_boot_ok_needs_a_booted_layer(tmp_path):
    boot = make_boot(tmp_path, {"saved_entry": f"{A}-6.1"})
    with pytest.raises(NodeError, match="img.bootid"):
        bootcount.boot_ok(Node(None, str(boot), None))


@pytest.mark.parametrize("tries", [0, 10])
def test_tries_are_bounded(tries):
    with pytest.raises(NodeError, match="--tries"):
        bootcount.armed({}, "b", "a", tries)


def test_state_round_trips_and_ignores_unknown_keys(tmp_path):
    save_state(str(tmp_path), NodeState(keep=3, pinned=[A], bad=[B], last_known_good=A))
    path = tmp_path / "ovirt-node/state.json"
    data = json.loads(path.read_text())
    data["future"] = 1
    path.write_text(json.dumps(data))
    assert load_state(str(tmp_path)) == NodeState(keep=3, pinned=[A], bad=[B],
                                                  last_known_good=A)
    path.write_text("[1]")
    with pytest.raises(NodeError, match="not a JSON object"):
        load_state(str(tmp_path))


def test_state_keeps_each_images_os_release_until_the_image_goes(tmp_path):
    state = NodeState()
    state.remember_image("node-1.0-1", {"PRETTY_NAME": "Demo 1", "ID": "demo", "HOME_URL": "x"})
    state.remember_image("node-2.0-1", {"NAME": "Demo", "VERSION_ID": "2"})
    save_state(str(tmp_path), state)
    loaded = load_state(str(tmp_path))
    assert loaded.images == {"node-1.0-1": {"PRETTY_NAME": "Demo 1", "ID": "demo"},
                             "node-2.0-1": {"NAME": "Demo", "VERSION_ID": "2"}}
    loaded.bad = ["node-1.0-1+1", "node-2.0-1+1"]
    assert loaded.forget_missing(layers={"node-2.0-1+1": "node-2.0-1"}, bases=["node-2.0-1"])
    assert loaded.bad == ["node-2.0-1+1"] and list(loaded.images) == ["node-2.0-1"]
    assert not loaded.forget_missing(layers={"node-2.0-1+1": "node-2.0-1"}, bases=["node-2.0-1"])


def test_state_ignores_a_malformed_images_map(tmp_path):
    path = tmp_path / "ovirt-node/state.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"images": {"a": {"NAME": 1, "ID": "x"}, "b": [1]}}))
    assert load_state(str(tmp_path)).images == {"a": {"ID": "x"}}
    path.write_text(json.dumps({"images": [1]}))
    assert load_state(str(tmp_path)).images == {}


def test_state_write_replaces_a_planted_symlink(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("keep me")
    (tmp_path / "ovirt-node").mkdir()
    os.symlink(outside, tmp_path / "ovirt-node/state.json")
    save_state(str(tmp_path), NodeState())
    assert outside.read_text() == "keep me"
    assert not os.path.islink(tmp_path / "ovirt-node/state.json")


def space(**changes):
    values = dict(pool="pool00", pool_size=10 * GiB, pool_used=1 * GiB, chunk_size=64 << 10,
                  metadata_size=1 * GiB, metadata_used=10 * MiB, vg_free=4 * GiB,
                  boot_free=800 * MiB)
    values.update(changes)
    return preflight.Space(**values)


def test_space_fits():
    assert preflight.space_problems(space(), 2 * GiB, 100 * MiB) == []


@pytest.mark.parametrize("changes,fragment", [
    ({"pool_used": 8 * GiB}, "thin pool pool00 has 2"),
    ({"metadata_used": 1 * GiB - MiB}, "metadata has"),
    ({"pool_used": 6 * GiB, "vg_free": 0}, "autoextend"),
    ({"boot_free": 50 * MiB}, "/boot has"),
])
def test_space_refusals_carry_the_numbers(changes, fragment):
    [problem] = preflight.space_problems(space(**changes), 2 * GiB, 100 * MiB)
    assert fragment in problem


def test_identity_and_version_rules():
    el9 = {"ID": "centos", "VERSION_ID": "9"}
    assert preflight.identity_problems(el9, {"ID": "centos", "VERSION_ID": "9.4"}, False) == []
    assert "allow-other-os" in preflight.identity_problems(
        el9, {"ID": "centos", "VERSION_ID": "10"}, False)[0]
    assert preflight.identity_problems(el9, {"ID": "debian"}, True) == []
    assert preflight.version_problems("node-4.5.6-0.1", ["node-4.5.5-0.1"], False) == []
    assert "not newer than node-4.5.6-0.1" in preflight.version_problems(
        "node-4.5.5-0.2", ["node-4.5.6-0.1"], False)[0]
    assert preflight.version_problems("node-4.5.5-0.2", ["node-4.5.6-0.1"], True) == []
