"""The collection's recorded CLI output (ansible_collections/ovirt/node/tests/
unit/plugins/modules/fixtures/) has the shapes the real CLI prints, so its
unit tests test the modules against what they will read on a node.

The engine's own code makes each shape here: node_status on LVM reports given
here (as tests/unit/test_status_pool.py does), an UpdatePlan's to_dict, the
check results, and `rollback --dry-run --json` run through the CLI's main on a
node whose /boot is a folder here. The fixtures must carry the same keys.
"""

import json
import os

import pytest

from org_ovirt_node import constants, status
from org_ovirt_node.cli import lifecycle
from org_ovirt_node.cli.main import main
from org_ovirt_node.lifecycle import check, persist
from org_ovirt_node.lifecycle.update import UpdatePlan
from org_ovirt_node.sizes import GiB, MiB

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "ansible_collections", "ovirt", "node", "tests", "unit",
    "plugins", "modules", "fixtures")


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as stream:
        return json.load(stream)


def test_status_fixture_has_node_status_keys(monkeypatch, tmp_path):
    """node_status of a node whose /boot is a folder here (real entries, grubenv and
    state) on LVM reports given here."""
    rows = {"vgs": [{"vg_name": "onn", "vg_size": str(30 * GiB), "vg_free": str(6 * GiB),
                     "vg_extent_size": str(4 * MiB)}],
            "lvs": [{"lv_name": "pool00", "lv_tags": constants.TAG_POOL, "lv_size": str(24 * GiB),
                     "lv_metadata_size": str(GiB), "data_percent": "20", "metadata_percent": "3"},
                    {"lv_name": "n-1-1", "lv_tags": constants.TAG_BASE, "lv_size": str(8 * GiB),
                     "lv_permissions": "read-only", "lv_skip_activation": "skip activation"},
                    {"lv_name": "n-1-1+1", "lv_tags": constants.TAG_LAYER, "origin": "n-1-1",
                     "lv_size": str(8 * GiB)},
                    {"lv_name": "var", "lv_tags": constants.TAG_VOLUME, "lv_size": str(5 * GiB),
                     "lv_path": "/dev/onn/var"}]}
    monkeypatch.setattr(status.lvm, "report", lambda kind, fields, *selection: [
        {field: row.get(field, "") for field in fields} for row in rows[kind]])
    node = _two_layer_node(str(tmp_path / "boot"))
    real = status.node_status(node)
    recorded = fixture("status_green.json")
    assert set(recorded) == set(real)
    for key in ("vg", "pool"):
        assert set(recorded[key]) == set(real[key]), key
    for key in ("bases", "layers", "volumes"):
        assert set(recorded[key][0]) == set(real[key][0]), key


def test_update_plan_fixture_has_the_plans_keys():
    plan = UpdatePlan(nvr="n-2-1", layer="n-2-1+1", base_size=1, from_layer="n-1-1+1",
                      from_entry="n-1-1+1-k", options="root=x", kernels=["k"],
                      gc={"remove": []}, packages=persist.PersistPlan(manager="dpkg"))
    real = plan.to_dict()
    recorded = fixture("update_plan.json")
    assert recorded["event"] == "plan"
    assert set(recorded["plan"]) == set(real)
    assert set(recorded["plan"]["boot_entry"]) == set(real["boot_entry"])
    assert set(recorded["plan"]["packages"]) == set(real["packages"])


def test_check_fixture_has_the_checks_shape():
    recorded = fixture("check_ok.json")
    assert set(recorded) == {"checks"}
    real = check.Result("tags", check.OK, "x").to_dict()
    for item in recorded["checks"]:
        assert set(item) == set(real)


def _two_layer_node(boot):
    """A node of two layers whose /boot is BOOT (entries and kernels exist), default B+1."""
    from org_ovirt_node.lifecycle.node import Node  # pylint: disable=import-outside-toplevel
    for layer in ("n-1-1+1", "n-2-1+1"):
        os.makedirs(os.path.join(boot, layer))
        for name in ("vmlinuz-k", "initramfs-k.img"):
            open(os.path.join(boot, layer, name), "w", encoding="utf-8").close()
        os.makedirs(os.path.join(boot, "loader", "entries"), exist_ok=True)
        with open(os.path.join(boot, "loader", "entries", f"{layer}-k.conf"), "w",
                  encoding="utf-8") as stream:
            stream.write(f"title {layer} (k)\nversion k\nlinux /{layer}/vmlinuz-k\n"
                         f"initrd /{layer}/initramfs-k.img\noptions img.bootid={layer}\n")
    os.makedirs(os.path.join(boot, "grub2"))
    node = Node("onn", boot, "n-2-1+1")
    node.layers = lambda: {"n-1-1+1": "n-1-1", "n-2-1+1": "n-2-1"}
    node.write_grubenv({"saved_entry": "n-2-1+1-k"})
    return node


def test_rollback_dry_run_json_is_the_modules_shape(tmp_path, monkeypatch, capsys):
    """`rollback --dry-run --json` through the CLI's main: a plan that changes,
    and one whose target is the boot default already (changed false, no error)."""
    node = _two_layer_node(str(tmp_path / "boot"))
    monkeypatch.setattr(lifecycle, "private_mounts", lambda: None)
    monkeypatch.setattr(lifecycle, "open_node", lambda vg=None: _Opened(node))
    monkeypatch.setattr(lifecycle, "_locked", lambda func: func)
    monkeypatch.setattr(lifecycle.sys.stdin, "isatty", lambda: False, raising=False)
    results = {}
    for to in ("n-1-1+1", "n-2-1+1"):
        code = main(["rollback", "--to", to, "--dry-run", "--json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        results[to] = json.loads(out)
    assert results["n-1-1+1"] == {"event": "plan", "from": "n-2-1+1", "to": "n-1-1+1",
                                  "entry": "n-1-1+1-k", "changed": True}
    assert results["n-2-1+1"]["changed"] is False
    # without --dry-run the same target is still refused, as before
    assert main(["rollback", "--to", "n-2-1+1", "--yes", "--json"]) == 1
    assert "n-2-1+1 is already the boot default" in capsys.readouterr().err
    with open(os.path.join(node.boot, "grub2", "grubenv"), encoding="utf-8") as stream:
        assert "saved_entry=n-2-1+1-k" in stream.read()


class _Opened:
    def __init__(self, node):
        self.node = node

    def __enter__(self):
        return self.node

    def __exit__(self, *exc):
        return False


def _plan(**changes):
    fields = dict(nvr="n-2-1", layer="n-2-1+1", base_size=1, from_layer="n-2-1+1",
                  from_entry="n-2-1+1-k", options="root=x", kernels=["k"], gc={"remove": []})
    fields.update(changes)
    return UpdatePlan(**fields)


def _fake_update(monkeypatch, tmp_path, plan):
    from org_ovirt_node.lifecycle import update  # pylint: disable=import-outside-toplevel
    image = tmp_path / "b.squashfs"
    image.write_bytes(b"")
    monkeypatch.setattr(lifecycle, "private_mounts", lambda: None)
    monkeypatch.setattr(lifecycle, "open_node", lambda vg=None: _Opened(object()))
    monkeypatch.setattr(lifecycle, "_locked", lambda func: func)
    monkeypatch.setattr(update, "plan_update", lambda node, options, reporter: plan)
    monkeypatch.setattr(update, "apply_update", lambda *args: pytest.fail("must not apply"))
    return str(image)


def test_update_unchanged_exit_77_writes_nothing(monkeypatch, tmp_path, capsys):
    """The module's one real run: with --unchanged-exit-77 an image whose layer is
    the boot default already exits 77 after printing its plan, applying nothing;
    without the flag the same plan is the preflight's refusal (exit 1)."""
    plan = _plan(up_to_date=True, problems=["n-2-1 is already installed (layer n-2-1+1)"])
    image = _fake_update(monkeypatch, tmp_path, plan)
    assert main(["update", "--image", image, "--unchanged-exit-77", "--yes", "--json"]) == 77
    [event] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert event["event"] == "plan" and event["plan"]["up_to_date"] is True
    assert main(["update", "--image", image, "--unchanged-exit-77", "--dry-run", "--json"]) == 77
    capsys.readouterr()
    assert main(["update", "--image", image, "--yes", "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["plan"]["problems"] and "update refused, nothing was written" in err


def test_update_json_prints_its_plan_first(monkeypatch, tmp_path, capsys):
    image = _fake_update(monkeypatch, tmp_path, _plan(problems=["pool pool00 is full"]))
    assert main(["update", "--image", image, "--unchanged-exit-77", "--yes", "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["plan"]["problems"] == ["pool pool00 is full"]
    assert err.strip() == ("ovirt-node: error: update refused, nothing was written: "
                           "pool pool00 is full")
