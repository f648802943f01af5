"""The node's life offline (--vg) on real LVM, where a booted node cannot show it.

The real node's life on its own disk (updates while it runs, boots, fallback,
rollback, power cuts, gc) is tests/vm/test_node_vm.py. What stays here is
what needs the disks from outside, on the fast busybox demo images: install
image A, change /etc and /var, look at the update plan to B, update and read
B's layer back (the /etc three-way merge and its conflict, /var content
added, a volume the image declares); a small second node whose full pool
makes preflight refuse, its disk byte-identical; then break one thing after
another and see `check` name each. The first VM also runs a tight third node
on the real node images (tests/vm/guest_full_pool.py): its pool runs full
while an update deploys, and the update stops cleanly.

Two virtme-ng VMs (tests/vm/guest_lifecycle.py); the tests read what they recorded.
"""

import json
import os
import re
import sys

import pytest

from tests.support.lifecycle_images import NVR_A, NVR_B, derive_image, newer_defaults
from tests.support.demo import ensure_demo_image
from tests.support.manifest import sha256
from tests.support.node_images import node_images
from tests.support.vm import REPO, run_in_vm, sparse_disk

pytestmark = pytest.mark.vm
GiB = 1 << 30
LAYER = {"A": NVR_A + "+1", "B": NVR_B + "+1"}
GUEST = os.path.join(REPO, "tests", "vm", "guest_lifecycle.py")
FULL_POOL_GUEST = os.path.join(REPO, "tests", "vm", "guest_full_pool.py")


class Scenario:
    """Runs the stages in order and keeps what each left behind."""

    def __init__(self, work, images, node_images_ab):
        self.work = work
        self.images = images
        self.node_images = node_images_ab
        self.node = sparse_disk(str(work / "node.img"), 32 * GiB)
        self.small = sparse_disk(str(work / "small.img"), 4 * GiB)
        self.tight = sparse_disk(str(work / "tight.img"), 6 * GiB)
        self.small_hashes = {}
        self.console = ""

    def stages(self, *names, then=""):
        """Run guest_lifecycle.py's stages NAMES in one VM, then the script THEN."""
        env = {f"IMAGE_{key}": path for key, path in self.images.items()}
        result = run_in_vm(f'"{sys.executable}" "{GUEST}" {" ".join(names)}\n' + then,
                           [self.node, self.small, self.tight], str(self.work), env=env)
        self.console = result.stdout[-4000:]
        for name in names:
            assert (self.work / f"{name}.done").exists(), result.stdout[-4000:]

    def run(self):
        # the tight node (/dev/vdc) shares the first VM's boot, on a healthy
        # node and before the small node's disk is hashed
        self.stages("install",
                    then=f'"{sys.executable}" "{FULL_POOL_GUEST}" /dev/vdc '
                         f'"{self.node_images["A"]}" "{self.node_images["B"]}"\n')
        self.small_hashes["before"] = sha256(self.small)
        self.stages("update_b", "break")
        self.small_hashes["after"] = sha256(self.small)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    image, _ = ensure_demo_image()
    images = {"A": image, "B": derive_image(NVR_B, newer_defaults)}
    run = Scenario(tmp_path_factory.mktemp("lifecycle"), images, node_images("AB"))
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


def no_traceback(scenario):
    for path in scenario.work.glob("*.err"):
        assert "Traceback" not in path.read_text(), path


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


def test_the_installed_node_records_what_gc_keeps(scenario):
    assert rc(scenario, "install", "node") == 0, recorded(scenario, "install", "node", "err")
    assert status(scenario, "install")["keep"] == 2


def test_update_switches_last_and_reports_the_conflict(scenario):
    assert rc(scenario, "update_b", "update") == 0, recorded(scenario, "update_b", "update",
                                                             "err")
    events = json_lines(scenario, "update_b", "update")
    steps = [event["step"] for event in events if event["event"] == "step"]
    assert steps == ["preflight", "checksum", "base", "layer", "etc", "var", "packages", "boot",
                     "switch", "gc"]
    result = events[-1]
    assert result["event"] == "result" and result["etc_conflicts"] == ["demo/both.conf"]
    state = status(scenario, "update_b")
    layers = {layer["name"]: layer for layer in state["layers"]}
    assert layers[LAYER["B"]]["default"] and layers[LAYER["A"]]["fallback"]
    assert state["boot_counter"] == "3"
    assert layers[LAYER["B"]]["kernels"] and layers[LAYER["B"]]["entries"]


def test_preflight_refusal_leaves_the_disk_byte_identical(scenario):
    assert rc(scenario, "update_b", "refused") == 1
    error = recorded(scenario, "update_b", "refused", "err")
    # the pool is full and the VG reserve taken: preflight names the pool either way
    assert "thin pool pool00" in error and "nothing was written" in error, error
    assert scenario.small_hashes["before"] == scenario.small_hashes["after"]


@pytest.mark.parametrize("name", ["pool", "var", "entries", "boot-space", "orphans",
                                  "last-boot", "default", "grubenv", "tags"])
def test_every_check_reports_what_was_broken(scenario, name):
    """break.NAME is check's output right after NAME's thing was broken."""
    assert rc(scenario, "break", name) == 1
    result = {item["name"]: item for item in as_json(scenario, "break", name)["checks"]}[name]
    assert result["status"] == "failed", result
    assert result["reason"]


def test_the_new_layer_keeps_local_changes_and_takes_new_defaults(scenario):
    files = as_json(scenario, "update_b", "files")
    assert files["etc/hostname"] == "changed-on-the-node\n"
    assert files["etc/demo/both.conf"] == "shared_setting=local\n"
    assert files["etc/demo/both.conf.imgnew"] == "shared_setting=image-4.5.6\n"
    assert files["etc/demo/defaults.conf"] == "image_setting=4.5.6\n"
    assert files["etc/demo/new.conf"] == "added_in=4.5.6\n"
    assert f"/dev/onn/{LAYER['B']} / " in files["etc/fstab"]
    assert "/dev/onn/var_lib_demo-vms /var/lib/demo-vms ext4 defaults,discard" in \
        files["etc/fstab"]
    assert files["var/lib/demo/userdata.txt"] == "data the node wrote\n"
    assert files["var/lib/demo/added-in-4.5.6.txt"] == "new in 4.5.6\n"
    assert files["var/lib/demo/state.txt"].startswith("state of the demo node")
    assert files["var/lib/demo-vms/README.txt"] == "a volume 4.5.6 needs\n"
    no_traceback(scenario)


def full_pool(scenario):
    path = scenario.work / "fullpool.json"
    assert path.exists(), scenario.console
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def test_an_update_that_runs_the_pool_full_stops_cleanly_and_leaves_nothing_behind(scenario):
    facts = full_pool(scenario)
    assert facts["install"]["rc"] == 0, facts["install"]["stderr"]
    before, update, full, after = facts["before"], facts["update"], facts["full"], facts["after"]
    # the other writer did run the pool full: the kernel refused it space
    assert "No space left on device" in full["writers"][1]["stderr"], full["writers"]
    # one line naming the pool, and nothing switched
    assert update["rc"] == 1, update
    error = update["stderr"].strip().splitlines()[-1]
    # whichever saw it first: the guard (95%), the kernel (out of space), or
    # LVM refusing a thin volume past the autoextend threshold
    assert re.fullmatch(r"ovirt-node: error: thin pool tight/pool00 (reached \d+\.\d% "
                        r"(data|metadata) use \(the limit is 95%\)|went \S+|passed its "
                        r"autoextend threshold .*) while the update was writing .*: stopped "
                        r"before the switch; removed what it created \(.*\); the boot default "
                        r"is still " + re.escape(before["layer"]), error), update["stderr"]
    assert "Traceback" not in update["stderr"]
    # what it created is gone at once; the full pool is full, not broken
    assert set(full["volumes"]) == set(before["volumes"]) | {"hog"}, full["volumes"]
    pool = full["pool_status"].split()
    assert pool[10] == "-" and pool[7] in ("rw", "out_of_data_space"), full["pool_status"]
    assert full["pool_metadata_percent"] < 95, full
    # once the writer's volume goes, everything takes writes again by itself
    assert after["layer"] == before["layer"]
    assert after["boot"] == before["boot"], "the tight node's /boot changed"
    assert after["volumes"] == before["volumes"], after["volumes"]
    pool = after["pool_status"].split()
    assert pool[7] == "rw" and pool[10] == "-", after["pool_status"]
    assert after["fsck"] == {before["layer"]: 0, "var": 0}, after["fsck"]
    assert after["writable"] == {before["layer"]: "", "var": ""}, after["writable"]
    assert facts["check"]["orphans"][0] == "ok", facts["check"]
