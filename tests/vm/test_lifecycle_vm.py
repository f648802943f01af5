"""The node's whole life on real LVM, proven by booting the disk itself.

Install image A, boot it (SeaBIOS, through the disk's own GRUB), change /etc
and /var, update to B and boot it (OVMF), roll back and boot A, update to C
whose init panics and watch GRUB fall back to A by itself, gc, then kill
updates at three points and boot the previous layer each time before a
re-run completes. A second, small node shows an update refused by preflight
leaving its disk byte-identical.

The lifecycle commands run offline (--vg) in a virtme-ng VM, one VM per
stage (tests/vm/guest_lifecycle.py); between stages the disk boots in qemu.
The scenario runs once; the tests below read what it recorded.
"""

import json
import os
import re
import sys

import pytest

from tests.support.lifecycle_images import NVR_A, NVR_B, NVR_C, NVR_D, lifecycle_images
from tests.support.manifest import sha256
from tests.support.nodeboot import boot_disk
from tests.support.vm import REPO, run_in_vm, sparse_disk

pytestmark = pytest.mark.vm
GiB = 1 << 30
LAYER = {name: nvr + "+1" for name, nvr in (("A", NVR_A), ("B", NVR_B), ("C", NVR_C),
                                             ("D", NVR_D))}
GUEST = os.path.join(REPO, "tests", "vm", "guest_lifecycle.py")


class Scenario:
    """Runs the stages in order and keeps what each left behind."""

    def __init__(self, work, images):
        self.work = work
        self.images = images
        self.node = sparse_disk(str(work / "node.img"), 32 * GiB)
        self.small = sparse_disk(str(work / "small.img"), 4 * GiB)
        self.consoles = {}
        self.small_hashes = {}

    def stage(self, name):
        env = {f"IMAGE_{key}": path for key, path in self.images.items()}
        result = run_in_vm(f'"{sys.executable}" "{GUEST}" {name}\n', [self.node, self.small],
                           str(self.work), env=env)
        assert (self.work / f"{name}.done").exists(), result.stdout[-4000:]

    def boot(self, name, **options):
        self.consoles[name] = boot_disk(self.node, **options)

    def run(self):
        self.stage("install")
        self.boot("A")
        self.small_hashes["before"] = sha256(self.small)
        self.stage("update_b")
        self.small_hashes["after"] = sha256(self.small)
        self.boot("B", firmware="uefi")
        self.stage("rollback")
        self.boot("rolled_back")
        self.stage("update_c")
        self.boot("fallback", reboots_allowed=True, timeout=1800)
        for kill in ("kill_base", "kill_layer", "kill_switch"):
            self.stage(kill)
            self.boot(kill)
        self.stage("finish")
        self.stage("break")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    images = lifecycle_images()
    run = Scenario(tmp_path_factory.mktemp("lifecycle"), images)
    run.run()
    return run


def recorded(scenario, stage, name, kind="out"):
    return (scenario.work / f"{stage}.{name}.{kind}").read_text()


def rc(scenario, stage, name):
    return int(recorded(scenario, stage, name, "rc"))


def as_json(scenario, stage, name):
    return json.loads(recorded(scenario, stage, name))


def json_lines(scenario, stage, name):
    return [json.loads(line) for line in recorded(scenario, stage, name).splitlines() if line]


def status(scenario, stage):
    return as_json(scenario, stage, "status")


def checks(scenario, stage):
    return {item["name"]: item for item in as_json(scenario, stage, "check")["checks"]}


def booted_layer(console):
    """The layer the demo init says it runs (the last boot when there were several)."""
    layers = re.findall(r"^running-layer: (\S+)", console.replace("\r", ""), re.M)
    return layers[-1] if layers else None


def node_file(console, path):
    """What the demo init printed for PATH in its node-files section."""
    match = re.search(rf"^{re.escape(path)}: (.*)$", console.replace("\r", ""), re.M)
    return match.group(1).strip() if match else None


def no_traceback(scenario):
    for path in scenario.work.glob("*.err"):
        assert "Traceback" not in path.read_text(), path


def test_installed_disk_boots_through_its_own_grub(scenario):
    assert status(scenario, "install")["keep"] == 2        # recorded at install
    console = scenario.consoles["A"]
    assert booted_layer(console) == LAYER["A"], console[-3000:]
    assert "boot-ok: exit status 0" in console


def test_update_plan_names_every_action(scenario):
    assert rc(scenario, "update_b", "dryrun") == 0, recorded(scenario, "update_b", "dryrun",
                                                             "err")
    plan = json_lines(scenario, "update_b", "dryrun")[-1]["plan"]   # after its progress lines
    assert plan["create_lvs"] == [NVR_B, LAYER["B"], "var_lib_demo-vms"]
    assert plan["new_volumes"]["/var/lib/demo-vms"]["size"] == GiB
    etc = {item["path"]: item["action"] for item in plan["etc"]}
    assert etc["demo/both.conf"] == "conflict"
    assert etc["hostname"] == "keep-local"
    assert plan["etc_conflicts"] == ["demo/both.conf"]
    assert any("added-in-4.5.6.txt" in path for path in plan["var"]["/var"])
    assert plan["boot_entry"]["fallback"].startswith(LAYER["A"])
    assert f"root=/dev/onn/{LAYER['B']}" in plan["boot_entry"]["options"].split()


def test_update_switches_last_and_reports_the_conflict(scenario):
    assert rc(scenario, "update_b", "update") == 0, recorded(scenario, "update_b", "update",
                                                             "err")
    events = json_lines(scenario, "update_b", "update")
    steps = [event["step"] for event in events if event["event"] == "step"]
    assert steps == ["preflight", "checksum", "base", "layer", "etc", "var", "boot", "switch",
                     "gc"]
    result = events[-1]
    assert result["event"] == "result" and result["etc_conflicts"] == ["demo/both.conf"]
    state = status(scenario, "update_b")
    layers = {layer["name"]: layer for layer in state["layers"]}
    assert layers[LAYER["B"]]["default"] and layers[LAYER["A"]]["fallback"]
    assert state["boot_counter"] == "3"
    assert layers[LAYER["B"]]["kernels"] and layers[LAYER["B"]]["entries"]


def test_new_layer_boots_with_local_changes_kept_and_new_defaults(scenario):
    console = scenario.consoles["B"]
    assert booted_layer(console) == LAYER["B"], console[-3000:]
    assert node_file(console, "/etc/hostname") == "changed-on-the-node"
    assert node_file(console, "/etc/demo/both.conf") == "shared_setting=local"
    assert node_file(console, "/etc/demo/both.conf.imgnew") == "shared_setting=image-4.5.6"
    assert node_file(console, "/etc/demo/defaults.conf") == "image_setting=4.5.6"
    assert node_file(console, "/etc/demo/new.conf") == "added_in=4.5.6"
    assert node_file(console, "/var/lib/demo/userdata.txt") == "data the node wrote"
    assert node_file(console, "/var/lib/demo/added-in-4.5.6.txt") == "new in 4.5.6"
    assert node_file(console, "/var/lib/demo/state.txt").startswith("state of the demo node")
    assert "boot-ok: exit status 0" in console
    mounts = console.split("--- mounts", 1)[1].split("--- end of mounts", 1)[0]
    assert re.search(r"/dev/onn/var_lib_demo-vms on /var/lib/demo-vms type ext4 \(.*discard",
                     mounts), mounts


def test_rollback_boots_the_previous_layer(scenario):
    assert rc(scenario, "rollback", "rollback") == 0, recorded(scenario, "rollback",
                                                               "rollback", "err")
    assert status(scenario, "rollback")["default_layer"] == LAYER["A"]
    assert booted_layer(scenario.consoles["rolled_back"]) == LAYER["A"]


def test_a_layer_that_does_not_boot_falls_back_by_itself(scenario):
    assert rc(scenario, "update_c", "update") == 0, recorded(scenario, "update_c", "update",
                                                             "err")
    console = scenario.consoles["fallback"]
    assert console.count("OVIRT-NODE-DEMO-PANIC") == 3, console[-4000:]
    assert booted_layer(console) == LAYER["A"], console[-3000:]
    state = status(scenario, "fallen_back")
    assert state["bad"] == [LAYER["C"]] and state["default_layer"] == LAYER["A"]
    assert state["last_known_good"] == LAYER["A"]
    bad = [layer for layer in state["layers"] if layer["bad"]]
    assert [layer["name"] for layer in bad] == [LAYER["C"]]
    assert checks(scenario, "fallen_back")["last-boot"]["status"] == "warning"


def test_a_bad_layer_is_not_reused_unless_forced(scenario):
    assert rc(scenario, "kill_base", "reuse_bad") == 1
    assert "--force" in recorded(scenario, "kill_base", "reuse_bad", "err")


def test_gc_keeps_the_running_layer(scenario):
    assert rc(scenario, "kill_base", "gc") == 0, recorded(scenario, "kill_base", "gc", "err")
    state = status(scenario, "kill_base")
    bases = [base["name"] for base in state["bases"] if base["name"] != NVR_D]
    assert bases == [NVR_A]
    assert state["bad"] == []                 # the bad layer went with its image


@pytest.mark.parametrize("stage,left", [("kill_base", [NVR_D]),
                                        ("kill_layer", [NVR_D, LAYER["D"]]),
                                        ("kill_switch", [NVR_D, LAYER["D"]])])
def test_a_killed_update_leaves_the_previous_layer_booting(scenario, stage, left):
    assert recorded(scenario, stage, "killed", "rc").strip() == "-9"
    orphans = checks(scenario, stage)["orphans"]
    assert orphans["status"] == "failed"
    for name in left:
        assert f"LV onn/{name}" in orphans["reason"], orphans
    assert status(scenario, stage)["default_layer"] == LAYER["A"]
    assert booted_layer(scenario.consoles[stage]) == LAYER["A"]


def test_a_re_run_completes(scenario):
    assert rc(scenario, "finish", "update") == 0, recorded(scenario, "finish", "update", "err")
    state = status(scenario, "finish")
    assert state["default_layer"] == LAYER["D"]
    assert checks(scenario, "finish")["orphans"]["status"] == "ok"
    no_traceback(scenario)


def test_preflight_refusal_leaves_the_disk_byte_identical(scenario):
    assert rc(scenario, "update_b", "refused") == 1
    error = recorded(scenario, "update_b", "refused", "err")
    assert "thin pool pool00 has" in error and "nothing was written" in error, error
    assert scenario.small_hashes["before"] == scenario.small_hashes["after"]


@pytest.mark.parametrize("name", ["pool", "var", "entries", "boot-space", "orphans",
                                  "last-boot", "default", "grubenv", "tags"])
def test_every_check_reports_what_was_broken(scenario, name):
    """break.NAME is check's output right after NAME's thing was broken."""
    assert rc(scenario, "break", name) == 1
    result = {item["name"]: item for item in as_json(scenario, "break", name)["checks"]}[name]
    assert result["status"] == "failed", result
    assert result["reason"]
