"""The node's own systemd units say what the README says they do."""

import configparser
import pathlib

import pytest

UNITS = pathlib.Path(__file__).resolve().parents[2] / "data" / "systemd"


def unit(name):
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str
    parser.read(UNITS / name, encoding="utf-8")
    return parser


def words(parser, section, key):
    return parser[section][key].split()


def test_health_gates_boot_complete_and_fails_into_redboot():
    health = unit("ovirt-node-health.service")
    assert health["Unit"]["Description"] == "oVirt Node boot health checks"
    assert "boot-complete.target" in words(health, "Unit", "Before")
    assert health["Unit"]["OnFailure"] == "ovirt-node-redboot.service"
    assert health["Unit"]["OnFailureJobMode"] == "fail"
    assert health["Unit"]["ConditionKernelCommandLine"] == "img.bootid"
    # multi-user.target must not wait for the checks
    assert health["Unit"]["DefaultDependencies"] == "no"
    assert "multi-user.target" not in words(health, "Unit", "After")
    assert {"local-fs.target", "sysinit.target"} <= set(words(health, "Unit", "After"))
    assert health["Service"]["Type"] == "oneshot"
    assert health["Service"]["RemainAfterExit"] == "yes"
    assert health["Service"]["ExecStart"] == "/usr/bin/ovirt-node health"
    assert health["Service"]["TimeoutStartSec"] == "30min"
    assert health["Install"]["RequiredBy"] == "boot-complete.target"
    assert health["Install"]["WantedBy"] == "multi-user.target"


def test_boot_ok_runs_after_boot_complete_only():
    boot_ok = unit("ovirt-node-boot-ok.service")
    assert "boot-complete.target" in words(boot_ok, "Unit", "After")
    assert boot_ok["Unit"]["Requires"] == "boot-complete.target"
    assert boot_ok["Unit"]["ConditionKernelCommandLine"] == "img.bootid"
    assert boot_ok["Service"]["Type"] == "oneshot"
    assert boot_ok["Service"]["RemainAfterExit"] == "yes"
    assert boot_ok["Service"]["ExecStart"] == "/usr/bin/ovirt-node boot-ok"
    assert boot_ok["Install"]["WantedBy"] == "multi-user.target"


def test_redboot_is_only_started_by_the_health_unit():
    red = unit("ovirt-node-redboot.service")
    assert red["Service"]["Type"] == "oneshot"
    assert red["Service"]["ExecStart"] == "/usr/bin/ovirt-node redboot"
    assert not red.has_section("Install")


def test_finalize_runs_at_shutdown_like_ostree_finalize_staged():
    fin = unit("ovirt-node-finalize.service")
    assert fin["Unit"]["DefaultDependencies"] == "no"
    assert words(fin, "Unit", "RequiresMountsFor") == ["/boot", "/etc"]
    assert fin["Unit"]["After"] == "local-fs.target"
    assert words(fin, "Unit", "Before") == ["basic.target", "final.target"]
    assert fin["Unit"]["Conflicts"] == "final.target"
    assert fin["Service"]["Type"] == "oneshot"
    assert fin["Service"]["RemainAfterExit"] == "yes"
    assert fin["Service"]["ExecStart"] == "/bin/true"
    assert fin["Service"]["ExecStop"] == "/usr/bin/ovirt-node finalize"
    assert fin["Service"]["TimeoutStopSec"] == "10min"
    assert not fin.has_section("Install")


@pytest.mark.parametrize("path", sorted(UNITS.glob("*.service")), ids=lambda path: path.name)
def test_every_command_a_unit_runs_exists(path):
    from org_ovirt_node.cli.main import COMMANDS  # pylint: disable=import-outside-toplevel
    service = unit(path.name)["Service"]
    for key in ("ExecStart", "ExecStop"):
        command = service.get(key, "").split()
        if command and command[0] == "/usr/bin/ovirt-node":
            assert command[1] in COMMANDS
