"""`ovirt-node health` on greenboot's contract, with real scripts under a tmp root.

The named checks need LVM and are proven in the VM tests; here they are given
as Results, and everything else (script discovery and order, greenboot's
DISABLED_HEALTHCHECKS, timeouts, bounded output, the verdict files) runs for
real under tmp_path.
"""

import json
import os
import time

import pytest

from org_ovirt_node.errors import NodeError
from org_ovirt_node.lifecycle import health
from org_ovirt_node.lifecycle.check import FAILED, OK, WARNING, Result

LAYER = "node-4.5.6-0.1+1"


def script(root, directory, name, body, executable=True):
    """Write a script NAME under ROOT/DIRECTORY; return its path."""
    path = root / directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    path.chmod(0o755 if executable else 0o644)
    return path


def all_ok():
    return [Result(name, OK, "fine") for name in
            ("tags", "pool", "var", "entries", "default", "grubenv", "boot-space", "orphans",
             "last-boot")]


def test_scripts_run_in_family_then_name_order_and_etc_replaces_usr_lib(tmp_path):
    script(tmp_path, "usr/lib/greenboot/check/required.d", "01-gb.sh", "exit 0\n")
    script(tmp_path, "usr/lib/ovirt-node/health.d/required.d", "20-b.sh", "exit 0\n")
    script(tmp_path, "etc/ovirt-node/health.d/required.d", "10-a", "#!/bin/sh\nexit 0\n")
    script(tmp_path, "usr/lib/ovirt-node/health.d/wanted.d", "30-w.sh", "exit 0\n")
    replaced = script(tmp_path, "usr/lib/greenboot/check/wanted.d", "40-x.sh", "exit 1\n")
    mine = script(tmp_path, "etc/greenboot/check/wanted.d", "40-x.sh", "exit 0\n",
                  executable=False)
    script(tmp_path, "etc/greenboot/check/wanted.d", "README", "not a script\n",
           executable=False)
    found = health.find_scripts(str(tmp_path))
    assert [(kind, name) for kind, name, _ in found] == [
        ("required", "10-a"), ("required", "20-b.sh"), ("required", "01-gb.sh"),
        ("wanted", "30-w.sh"), ("wanted", "40-x.sh")]
    assert found[-1][2] == str(mine) != str(replaced)


def test_green_with_passing_scripts_writes_the_verdict_files(tmp_path):
    script(tmp_path, "etc/greenboot/check/required.d", "ok.sh", "echo checked; exit 0\n",
           executable=False)
    result = health.run_health(LAYER, str(tmp_path), checks=all_ok(), layers={LAYER})
    assert result["status"] == "green" and result["failed"] == []
    assert result["layer"] == LAYER and result["time"].endswith("+00:00")
    [row] = result["scripts"]
    assert row["status"] == "ok" and row["rc"] == 0 and row["output"] == "checked\n"
    assert row["kind"] == "required" and row["path"].endswith("required.d/ok.sh")
    assert {check["name"]: check["required"] for check in result["checks"]}["last-boot"] is False
    on_run = json.loads((tmp_path / "run/ovirt-node/health.json").read_text())
    assert on_run == result
    assert (tmp_path / "run/ovirt-node").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "run/motd.d/ovirt-node-health").read_text() == " node status: OK\n"
    assert json.loads((tmp_path / "boot/ovirt-node/health.json").read_text()) == {LAYER: result}
    assert health.render(result).splitlines()[-1] == "health: green"


def test_a_failing_required_script_is_red_and_named_in_motd(tmp_path):
    script(tmp_path, "usr/lib/ovirt-node/health.d/required.d", "50-vdsm.sh",
           "echo starting >&2; echo vdsmd is not running; exit 3\n")
    result = health.run_health(LAYER, str(tmp_path), checks=all_ok())
    assert result["status"] == "red"
    assert result["failed"] == [{"name": "50-vdsm.sh", "kind": "script",
                                 "output": "starting\nvdsmd is not running\n"}]
    assert result["scripts"][0]["rc"] == 3
    assert (tmp_path / "run/motd.d/ovirt-node-health").read_text() == (
        " node status: DEGRADED\n   script 50-vdsm.sh failed: vdsmd is not running\n")
    assert health.render(result).splitlines()[-1] == "health: red: 50-vdsm.sh"
    assert any("required script" in line and "vdsmd is not running" in line
               for line in health.journal_lines(result))


def test_wanted_failures_and_unrequired_checks_only_report(tmp_path):
    script(tmp_path, "etc/ovirt-node/health.d/wanted.d", "nag.sh", "exit 1\n")
    checks = all_ok()
    checks[-1] = Result("last-boot", FAILED, "node-4.5.5-0.1+1 used up its boot tries")
    checks[-2] = Result("orphans", FAILED, "an interrupted update left things")
    checks[1] = Result("pool", WARNING, "getting full")
    result = health.run_health(LAYER, str(tmp_path), checks=checks)
    assert result["status"] == "green" and result["failed"] == []
    assert result["scripts"][0]["status"] == "failed"
    assert len(health.journal_lines(result)) == 3       # still logged


@pytest.mark.parametrize("name", sorted(health.REQUIRED_CHECKS - {"node"}))
def test_a_failed_required_check_is_red(tmp_path, name):
    checks = [Result(result.name, FAILED, "broken: really") if result.name == name else result
              for result in all_ok()]
    result = health.run_health(LAYER, str(tmp_path), checks=checks)
    assert result["status"] == "red"
    assert result["failed"] == [{"name": name, "kind": "check", "output": "broken: really"}]
    assert f"check {name} failed: broken: really" in \
        (tmp_path / "run/motd.d/ovirt-node-health").read_text()


def test_a_node_that_cannot_be_opened_is_red(tmp_path):
    result = health.run_health(LAYER, str(tmp_path),
                               checks=[Result("node", FAILED, "no oVirt Node layout found")])
    assert result["status"] == "red" and result["failed"][0]["name"] == "node"


def test_timeout_kills_the_script_and_its_children(tmp_path):
    (tmp_path / "etc/ovirt-node").mkdir(parents=True)
    (tmp_path / "etc/ovirt-node/health.conf").write_text("# seconds\ntimeout = 1\n")
    script(tmp_path, "etc/ovirt-node/health.d/required.d", "hang.sh",
           "echo before; sleep 30 & sleep 30\n")
    start = time.monotonic()
    result = health.run_health(LAYER, str(tmp_path), checks=all_ok())
    assert time.monotonic() - start < 10
    [row] = result["scripts"]
    assert row["status"] == "timeout" and row["rc"] is None
    assert row["output"].startswith("before\n") and "killed after 1 s" in row["output"]
    assert result["status"] == "red"


def test_a_script_that_leaves_a_child_holding_its_output_does_not_hang(tmp_path):
    script(tmp_path, "etc/ovirt-node/health.d/required.d", "daemon.sh",
           "sleep 30 & echo done\n")
    start = time.monotonic()
    result = health.run_health(LAYER, str(tmp_path), checks=all_ok())
    assert time.monotonic() - start < 10
    assert result["scripts"][0]["status"] == "ok"


def test_output_is_bounded_and_stdin_is_empty(tmp_path):
    script(tmp_path, "etc/ovirt-node/health.d/required.d", "loud.sh",
           "if read line; then exit 9; fi\n"
           "head -c 100000 /dev/zero | tr '\\0' a; echo; echo the end\n")
    [row] = health.run_health(LAYER, str(tmp_path), checks=all_ok())["scripts"]
    assert row["status"] == "ok"
    assert len(row["output"]) == health.OUTPUT_TAIL and row["output"].endswith("a\nthe end\n")


@pytest.mark.parametrize("line", ['DISABLED_HEALTHCHECKS=("a.sh" "b.sh")',
                                  'DISABLED_HEALTHCHECKS=(\n  "a.sh"\n  "b.sh"\n)',
                                  'DISABLED_HEALTHCHECKS="a.sh b.sh"',
                                  "DISABLED_HEALTHCHECKS=a.sh\\ b.sh"])
def test_greenboot_disabled_healthchecks_are_skipped(tmp_path, line):
    (tmp_path / "etc/greenboot").mkdir(parents=True)
    (tmp_path / "etc/greenboot/greenboot.conf").write_text(
        f"GREENBOOT_MAX_BOOT_ATTEMPTS=3\n{line}\n")
    script(tmp_path, "usr/lib/greenboot/check/required.d", "a.sh", "exit 1\n")
    script(tmp_path, "etc/ovirt-node/health.d/required.d", "b.sh", "exit 1\n")
    script(tmp_path, "usr/lib/greenboot/check/required.d", "c.sh", "exit 0\n")
    result = health.run_health(LAYER, str(tmp_path), checks=all_ok())
    assert {row["name"]: row["status"] for row in result["scripts"]} == {
        "a.sh": "skipped", "b.sh": "skipped", "c.sh": "ok"}
    assert result["status"] == "green"


@pytest.mark.parametrize("text, fragment", [("timeout=0\n", "timeout must be whole seconds"),
                                            ("timeout=ten\n", "not 'ten'"),
                                            ("tiemout=10\n", "unknown setting 'tiemout'")])
def test_a_bad_health_conf_is_one_clear_error(tmp_path, text, fragment):
    (tmp_path / "etc/ovirt-node").mkdir(parents=True)
    (tmp_path / "etc/ovirt-node/health.conf").write_text(text)
    with pytest.raises(NodeError, match=fragment) as caught:
        health.script_timeout(str(tmp_path))
    assert "\n" not in str(caught.value) and "line 1" in str(caught.value)


def test_boot_keeps_the_last_verdict_of_each_existing_layer(tmp_path):
    old, gone = "node-4.5.5-0.1+1", "node-4.5.4-0.1+1"
    boot = tmp_path / "boot/ovirt-node"
    boot.mkdir(parents=True)
    (boot / "health.json").write_text(json.dumps({old: {"status": "red", "layer": old},
                                                  gone: {"status": "green", "layer": gone}}))
    result = health.run_health(LAYER, str(tmp_path), checks=all_ok(), layers={LAYER, old})
    assert json.loads((boot / "health.json").read_text()) == {
        old: {"status": "red", "layer": old}, LAYER: result}


def test_an_unreadable_boot_record_is_replaced(tmp_path):
    (tmp_path / "boot/ovirt-node").mkdir(parents=True)
    (tmp_path / "boot/ovirt-node/health.json").write_text("{not json")
    result = health.run_health(LAYER, str(tmp_path), checks=all_ok())
    assert health.read_verdicts(health.verdicts_path(str(tmp_path / "boot"))) == \
        {LAYER: result}
    assert health.read_running_verdict(str(tmp_path)) == result


def test_a_symlinked_script_counts_and_a_broken_one_is_ignored(tmp_path):
    real = script(tmp_path, "usr/share/checks", "real.sh", "exit 0\n")
    directory = tmp_path / "etc/greenboot/check/required.d"
    directory.mkdir(parents=True)
    os.symlink(real, directory / "linked.sh")
    os.symlink(tmp_path / "missing", directory / "broken.sh")
    assert [name for _, name, _ in health.find_scripts(str(tmp_path))] == ["linked.sh"]
