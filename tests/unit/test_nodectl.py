"""nodectl's JSON and text shapes (org_ovirt_node/nodectl/), against recorded node states.

The inputs are what the engine gives on a node: BLS entries and grubenv on
a /boot in tmp_path (written the way install and update write them), check
rows as lifecycle/check.py makes them, health verdicts as health.py records
them. cockpit-ovirt reads the JSON by these exact keys.
"""

import json
import os

import pytest

from org_ovirt_node.install import bootconfig
from org_ovirt_node.lifecycle.node import Node
from org_ovirt_node.nodectl import cli, shapes
from org_ovirt_node.util import grubcfg
from org_ovirt_node.util.bls import BlsEntry
from org_ovirt_node.util.grubenv import render_grubenv

OLD, NEW = "ovirt-node-ng-4.5.5-0.1", "ovirt-node-ng-4.5.6-0.1"
KVER = "6.1.0-28-amd64"

ALL_OK = [{"name": name, "status": "ok", "reason": "fine"}
          for name in ("tags", "pool", "var", "entries", "default", "grubenv", "boot-space",
                       "orphans", "last-boot", "node", "health")]
GROUP_KEYS = {
    "bootloader": {"status", "layer_boot_entries", "valid_boot_entries"},
    "mount_points": {"status", "separate_var", "discard_is_used"},
    "basic_storage": {"status", "initialized_vg", "initialized_thin_pool", "initialized_lvs"},
    "thin_storage": {"status", "checking_available_space_in_thinpool",
                     "checking_thinpool_auto-extend"},
    "ovirt_node": {"status", "boot_space", "orphans", "last_boot", "health"},
    "vdsmd": {"status"},
}


def rows(**changed):
    """ALL_OK with some checks changed: name=(status, reason)."""
    out = []
    for row in ALL_OK:
        key = row["name"].replace("-", "_")
        out.append(dict(row, status=changed[key][0], reason=changed[key][1])
                   if key in changed else dict(row))
    return out


def fake_kernels(path):
    path.mkdir(parents=True)
    (path / f"vmlinuz-{KVER}").write_bytes(b"kernel")
    (path / f"initrd.img-{KVER}").write_bytes(b"initrd")
    return path


@pytest.fixture
def boot(tmp_path):
    """A /boot with two layers' entries as update writes them, a Debian entry and a
    node-titled one without img.bootid=; the newer layer is the default."""
    boot = tmp_path / "boot"
    kernels = fake_kernels(tmp_path / "image-boot")
    for nvr in (OLD, NEW):
        layer = f"{nvr}+1"
        bootconfig.write_boot_entries(str(kernels), str(boot), layer, nvr,
                                      bootconfig.layer_options("onn", layer, ["quiet"]))
    entries = boot / "loader" / "entries"
    for entry in (BlsEntry("debian-" + KVER, f"Debian GNU/Linux ({KVER})", KVER,
                           f"/vmlinuz-{KVER}", f"/initrd.img-{KVER}", "root=/dev/sda2 ro"),
                  BlsEntry("node-rescue", "node rescue", KVER, f"/vmlinuz-{KVER}",
                           f"/initrd.img-{KVER}", "root=/dev/sda2 ro")):
        (entries / entry.filename).write_text(entry.render())
    (boot / "grub2").mkdir()
    (boot / "grub2" / "grubenv").write_bytes(render_grubenv({"saved_entry": f"{NEW}+1-{KVER}"}))
    return boot


def info_of(boot, saved=None):
    node = Node("onn", str(boot), f"{NEW}+1")
    order = [entry.entry_id for entry in grubcfg.newest_first(grubcfg.read_entries(str(boot)))]
    layers = {OLD: [f"{OLD}+1"], NEW: [f"{NEW}+1"]}
    return shapes.info_shape(node.entries(), order,
                             saved or node.grubenv().get("saved_entry"), layers, node.running)


def strings_only(value):
    if isinstance(value, dict):
        return all(isinstance(key, str) and strings_only(item) for key, item in value.items())
    if isinstance(value, list):
        return all(strings_only(item) for item in value)
    return isinstance(value, str)


def test_info_lists_node_entries_by_title_with_grubby_fields_all_strings(boot):
    info = info_of(boot)
    assert set(info) == {"bootloader", "layers", "current_layer"}
    assert strings_only(info)
    new_title, old_title = f"{NEW} ({KVER})", f"{OLD} ({KVER})"
    assert info["bootloader"]["default"] == new_title
    # only entries titled node/rhvh whose args carry img.bootid= (as imgbased lists them)
    assert set(info["bootloader"]["entries"]) == {new_title, old_title}
    entry = info["bootloader"]["entries"][new_title]
    assert set(entry) == {"index", "kernel", "args", "root", "initrd", "title", "blsid"}
    assert entry["kernel"] == f"/boot/{NEW}+1/vmlinuz-{KVER}"
    assert entry["initrd"] == f"/boot/{NEW}+1/initrd.img-{KVER}"
    assert entry["root"] == f"/dev/onn/{NEW}+1"
    assert f"img.bootid={NEW}+1" in entry["args"].split() and "root=" not in entry["args"]
    assert entry["title"] == new_title and entry["blsid"] == f"{NEW}+1-{KVER}"
    # GRUB's menu lists the newest first; the index counts every bootable entry
    indexes = {title: int(value["index"]) for title, value in
               info["bootloader"]["entries"].items()}
    assert indexes[new_title] < indexes[old_title]
    assert info["layers"] == {OLD: [f"{OLD}+1"], NEW: [f"{NEW}+1"]}
    assert info["current_layer"] == f"{NEW}+1"
    json.dumps(info)


def test_info_default_by_title_as_imgbased_writes_it(boot):
    assert info_of(boot, saved=f"{OLD} ({KVER})")["bootloader"]["default"] == f"{OLD} ({KVER})"
    assert info_of(boot, saved="gone")["bootloader"]["default"] == ""


def test_our_titles_carry_node_for_our_nvrs(tmp_path):
    kernels = fake_kernels(tmp_path / "k")
    [entry] = bootconfig.write_boot_entries(str(kernels), str(tmp_path / "boot"), f"{NEW}+1",
                                            NEW, "img.bootid=x")
    assert "node" in entry.title


def test_info_text_as_nodectl_formats_it(boot):
    text = shapes.render_info(info_of(boot))
    lines = text.splitlines()
    assert lines[0] == "bootloader: "
    assert lines[1] == f"  default: {NEW} ({KVER})"
    assert f"  {NEW}: " in lines and f"    {NEW}+1" in lines
    assert lines[-1] == f"current_layer: {NEW}+1"


def test_check_all_ok_has_exactly_nodectls_groups_and_leaves():
    shape = shapes.check_shape(rows(), vdsmd_ok=True)
    assert list(shape) == ["status", "bootloader", "mount_points", "basic_storage",
                           "thin_storage", "ovirt_node", "vdsmd"]
    assert shape["status"] == "ok"
    for group, keys in GROUP_KEYS.items():
        assert set(shape[group]) == keys, group
        assert list(shape[group])[0] == "status"
        assert shape[group]["status"] == "ok"
        for key in keys - {"status"}:
            assert shape[group][key] == {"status": "ok"}


def test_check_splits_var_and_pool_reasons_onto_their_leaves():
    shape = shapes.check_shape(rows(
        var=("failed", "/var (/dev/onn/var) is mounted without discard: freed blocks stay "
                       "allocated in the pool (fix: add discard to its fstab line)"),
        pool=("failed", "pool pool00 cannot autoextend: one step needs 4.86 GiB, the VG has "
                        "12 MiB free (add a PV or free 4.85 GiB)")), vdsmd_ok=True)
    assert shape["status"] == "bad"
    assert shape["mount_points"]["separate_var"] == {"status": "ok"}
    assert shape["mount_points"]["discard_is_used"]["status"].startswith(
        "failed - /var (/dev/onn/var) is mounted without discard")
    assert shape["mount_points"]["status"].startswith("failed - ")
    assert shape["thin_storage"]["checking_available_space_in_thinpool"] == {"status": "ok"}
    assert shape["thin_storage"]["checking_thinpool_auto-extend"]["status"] == (
        "failed - pool pool00 cannot autoextend: one step needs 4.86 GiB, the VG has 12 MiB "
        "free (add a PV or free 4.85 GiB)")
    assert shape["bootloader"]["status"] == "ok"


def test_check_pool_usage_goes_to_the_space_leaf():
    shape = shapes.check_shape(rows(pool=(
        "failed", "pool pool00: data 85.0% used (limit 80%); free space with ovirt-node gc or "
                  "grow the VG")), vdsmd_ok=True)
    assert shape["thin_storage"]["checking_available_space_in_thinpool"]["status"] == (
        "failed - pool pool00: data 85.0% used (limit 80%); free space with ovirt-node gc or "
        "grow the VG")
    assert shape["thin_storage"]["checking_thinpool_auto-extend"] == {"status": "ok"}


def test_check_tags_pool_and_lvs():
    shape = shapes.check_shape(rows(tags=("failed", "no LV tagged imgbased:pool; no LV tagged "
                                                    "imgbased:base (imgbased cannot find them)")),
                               vdsmd_ok=True)
    assert shape["basic_storage"]["initialized_thin_pool"]["status"] == \
        "failed - no LV tagged imgbased:pool"
    assert shape["basic_storage"]["initialized_lvs"]["status"] == \
        "failed - no LV tagged imgbased:base (imgbased cannot find them)"
    assert shape["basic_storage"]["initialized_vg"] == {"status": "ok"}


def test_a_warning_or_a_bad_vdsmd_is_warn_a_failure_wins():
    warned = shapes.check_shape(rows(last_boot=("warning", "X failed to boot")), vdsmd_ok=True)
    assert warned["status"] == "warn"
    assert warned["ovirt_node"]["last_boot"] == {"status": "warn - X failed to boot"}
    assert warned["ovirt_node"]["status"].startswith("warn - ")
    vdsm = shapes.check_shape(rows(), vdsmd_ok=False)
    assert vdsm["status"] == "warn" and vdsm["vdsmd"] == {"status": "bad"}
    both = shapes.check_shape(rows(entries=("failed", "e")), vdsmd_ok=False)
    assert both["status"] == "bad"
    assert shapes.render_check(both).splitlines()[0] == "Status: FAILED"


def test_a_node_that_cannot_be_opened_errs_every_leaf_it_feeds():
    failed = [{"name": "node", "status": "failed", "reason": "no oVirt Node layout found"},
              shapes.health_result(None, "L+1")]
    shape = shapes.check_shape(failed, vdsmd_ok=True)
    assert shape["status"] == "bad"
    assert shape["basic_storage"]["initialized_vg"] == {
        "status": "failed - no oVirt Node layout found"}
    assert shape["bootloader"]["layer_boot_entries"] == {"status": "error"}
    assert shape["ovirt_node"]["health"]["status"].startswith("warn - no health verdict")
    for group, keys in GROUP_KEYS.items():
        assert set(shape[group]) == keys


def test_health_leaf_from_the_boots_verdict():
    green = {"status": "green", "layer": "L+1", "failed": []}
    red = {"status": "red", "layer": "L+1", "failed": [
        {"name": "var", "kind": "check", "output": "/var is not a separate thin volume"},
        {"name": "50-net.sh", "kind": "script", "output": "ping\nno route to host\n"}]}
    assert shapes.health_result(green, "L+1")["status"] == "ok"
    assert shapes.health_result(green, "M+1")["status"] == "warning"   # another boot's
    row = shapes.health_result(red, "L+1")
    assert row["status"] == "failed"
    assert row["reason"] == ("red: check var: /var is not a separate thin volume; "
                             "script 50-net.sh: no route to host")
    shape = shapes.check_shape(rows()[:-1] + [row], vdsmd_ok=True)
    assert shape["status"] == "bad"
    assert shape["ovirt_node"]["health"]["status"].startswith("failed - red: check var")


def test_human_check_text_is_nodectls():
    text = shapes.render_check(shapes.check_shape(rows(), vdsmd_ok=True))
    assert text.splitlines() == [
        "Status: OK",
        "Bootloader ... OK",
        "  Layer boot entries ... OK",
        "  Valid boot entries ... OK",
        "Mount points ... OK",
        "  Separate /var ... OK",
        "  Discard is used ... OK",
        "Basic storage ... OK",
        "  Initialized VG ... OK",
        "  Initialized Thin Pool ... OK",
        "  Initialized LVs ... OK",
        "Thin storage ... OK",
        "  Checking available space in thinpool ... OK",
        "  Checking thinpool auto-extend ... OK",
        "oVirt Node ... OK",
        "  Boot space ... OK",
        "  Orphans ... OK",
        "  Last boot ... OK",
        "  Health ... OK",
        "vdsmd ... OK"]
    failed = shapes.render_check(shapes.check_shape(rows(entries=("failed", "E1 names a "
                                                                  "missing kernel")), True))
    assert "  Layer boot entries ... FAILED - E1 names a missing kernel" in failed.splitlines()
    assert shapes.render_oneline(shapes.check_shape(rows(), True)) == "\n  Node Status: OK\n"
    coloured = shapes.render_check(shapes.check_shape(rows(), True), colour=True)
    assert coloured.splitlines()[0] == "Status: \033[32mOK\033[0m"


def test_motd_shapes():
    ok = shapes.check_shape(rows(), vdsmd_ok=True)
    assert shapes.motd_shape(ok) == {
        "node_status": "ok",
        "additional_info": "Please check the status manually using `nodectl check`"}
    assert shapes.render_motd(ok) == ("\n  node status: OK\n"
                                      "  See `nodectl check` for more information\n")
    bad = shapes.check_shape(rows(var=("failed", "/var is not a separate thin volume")), True)
    assert shapes.motd_shape(bad)["node_status"] == "bad"
    assert shapes.render_motd(bad).splitlines() == [
        "", "  node status: DEGRADED",
        "  Please check the status manually using `nodectl check`",
        "    Separate /var ... FAILED - /var is not a separate thin volume"]


def test_rollback_shapes():
    assert shapes.rollback_shape(next_layer=f"{OLD}+1") == {"success": True,
                                                            "next_layer": f"{OLD}+1"}
    failed = shapes.rollback_shape(reason="no layer older than X+1 to roll back to")
    assert failed == {"success": False, "reason": "no layer older than X+1 to roll back to"}
    assert shapes.render_result(failed, "") == ("Status: Failure\n  Reason:\n"
                                                "    no layer older than X+1 to roll back to")
    assert shapes.render_result(shapes.rollback_shape(next_layer="L+1"), "New layer: L+1") == \
        "Status: Success\n  New layer: L+1"


IP_JSON = json.dumps([
    {"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "scope": "host"}]},
    {"ifname": "enp1s0", "addr_info": [
        {"family": "inet", "local": "192.0.2.10", "scope": "global"},
        {"family": "inet6", "local": "2001:db8::10", "scope": "global"},
        {"family": "inet6", "local": "fe80::1", "scope": "link"}]},
    {"ifname": "virbr0", "addr_info": [{"family": "inet", "local": "192.168.122.1",
                                        "scope": "global"}]}])


def test_banner_lists_global_addresses_but_libvirts():
    addresses = shapes.console_addresses(IP_JSON)
    assert addresses == ["192.0.2.10", "2001:db8::10"]
    assert shapes.banner(addresses) == ("Admin Console: https://192.0.2.10:9090/ or "
                                        "https://[2001:db8::10]:9090/")


# --- the command: root only, exit codes
def run(monkeypatch, capsys, *argv, uid=0):
    monkeypatch.setattr(os, "geteuid", lambda: uid)
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_root_only(monkeypatch, capsys):
    assert run(monkeypatch, capsys, "check", uid=1000) == (1, "nodectl must be run as root!\n",
                                                           "")


def test_no_command_prints_help_and_fails(monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys)
    assert code == 1 and "usage: nodectl" in out


def test_machine_readable_check_exits_0_even_when_bad(monkeypatch, capsys):
    monkeypatch.setattr(cli, "check_rows", lambda: rows(entries=("failed", "broken")))
    monkeypatch.setattr(cli, "vdsmd_ok", lambda: True)
    for argv in (["--machine-readable", "check"], ["check", "--machine-readable"]):
        code, out, _ = run(monkeypatch, capsys, *argv)
        assert code == 0 and json.loads(out)["status"] == "bad"
    code, out, _ = run(monkeypatch, capsys, "check")
    assert code == 0 and out.startswith("Status: FAILED\n")
    code, out, _ = run(monkeypatch, capsys, "--machine-readable", "motd")
    assert code == 0 and json.loads(out)["node_status"] == "bad"


def test_rollback_failure_is_json_with_exit_0_and_text_with_exit_1(monkeypatch, capsys):
    from org_ovirt_node.errors import NodeError
    from org_ovirt_node.lifecycle import lock

    def held(command):
        raise NodeError(f"another ovirt-node command is running (update, pid 1); {command}")
    monkeypatch.setattr(lock, "acquire", held)
    code, out, _ = run(monkeypatch, capsys, "--machine-readable", "rollback", "--nvr", "L+1")
    assert code == 0
    assert json.loads(out) == {"success": False, "reason": "another ovirt-node command is "
                                                           "running (update, pid 1); rollback"}
    code, out, _ = run(monkeypatch, capsys, "rollback")
    assert code == 1 and out.startswith("Status: Failure\n  Reason:\n    another")


def test_version_exits_0_for_cockpits_permission_probe(monkeypatch, capsys):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--machine-readable", "--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == "nodectl-0.1.0\n"


def test_the_login_script_never_blocks_a_login():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "data", "nodectl-motd.sh")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert "timeout -k 2 10 nodectl motd" in text and "|| true" in text
    assert '"$(id -u 2>/dev/null)" = 0' in text and '"${PS1-}"' in text


def test_generate_banner_prints_or_writes_the_console_issue_file(monkeypatch, capsys, tmp_path):
    class Done:
        stdout = IP_JSON
    monkeypatch.setattr(cli.subprocess, "run", lambda *args, **kwargs: Done())
    code, out, _ = run(monkeypatch, capsys, "generate-banner")
    assert code == 0 and out == ("Admin Console: https://192.0.2.10:9090/ or "
                                 "https://[2001:db8::10]:9090/\n\n")
    code, out, _ = run(monkeypatch, capsys, "--machine-readable", "generate-banner")
    assert json.loads(out) == {"admin_console": ["192.0.2.10", "2001:db8::10"]}
    monkeypatch.setattr(cli, "ISSUE_FILE", str(tmp_path / "issue.d" / "ovirt-node.issue"))
    code, out, _ = run(monkeypatch, capsys, "generate-banner", "--update-issue")
    assert code == 0 and out == ""
    assert (tmp_path / "issue.d" / "ovirt-node.issue").read_text().startswith(
        "Admin Console: https://192.0.2.10:9090/")


@pytest.mark.skipif(os.geteuid() != 0, reason="nodectl is root only")
def test_the_installed_script_runs_the_cli():
    import subprocess
    import sys
    top = os.path.join(os.path.dirname(__file__), "..", "..")
    result = subprocess.run([sys.executable, os.path.join(top, "data", "nodectl.py"),
                             "--machine-readable", "--version"], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=top), check=False)
    assert (result.returncode, result.stdout) == (0, "nodectl-0.1.0\n")


def test_check_rows_turn_an_unreadable_node_into_a_failed_node_row(monkeypatch):
    from org_ovirt_node.lifecycle import health
    from org_ovirt_node.util import namespace

    def unreadable():
        raise FileNotFoundError(2, "No such file or directory", "/boot/loader/entries")
    monkeypatch.setattr(namespace, "private_mounts", lambda: None)
    monkeypatch.setattr(health, "node_checks", unreadable)
    monkeypatch.setattr(health, "read_running_verdict", lambda: None)
    found = cli.check_rows()
    assert found[0] == {"name": "node", "status": "failed",
                        "reason": "/boot/loader/entries: No such file or directory"}
    assert found[-1]["name"] == "health"
    assert shapes.check_shape(found, True)["status"] == "bad"
