"""The role ovirt.node.rolling_update and the playbook ovirt.node.rolling_update,
run by the real ansible-playbook over hosts with the local connection, each
with a stand-in `ovirt-node` on its PATH (the collection's unit-test stand-in:
recorded answers in the CLI's shapes, answered in order, calls logged).

What ansible-core itself decides is what is checked: serial and
max_fail_percentage from extra variables stop the rollout at a refused node
before the next one is reached; the settle loop (settle.yml including itself)
rides out a node that cannot answer or is still red on a try GRUB will repeat;
and the verdict's failure is fatal to the whole play, so a later batch is never
touched, naming the node and its failed check. A real reboot cannot run over a
local connection: the reboot itself is the VM story's (see the README).
"""

import copy
import importlib.util
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTION = os.path.join(REPO, "ansible_collections", "ovirt", "node")
UNITS = os.path.join(COLLECTION, "tests", "unit", "plugins", "modules")
BIN = os.path.dirname(sys.executable)

A = "ovirt-node-ng-4.5.6-0.20250101.0"
B = "ovirt-node-ng-4.5.7-0.20250301.0"
IMAGE = "/var/tmp/b.squashfs"
PREFLIGHT = ["update", "--image", IMAGE, "--dry-run", "--unchanged-exit-77", "--json"]

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(BIN, "ansible-playbook")),
                                reason="ansible-core is not installed in this venv: make deps")


def _standin_module():
    spec = importlib.util.spec_from_file_location("ovirt_node_standin",
                                                  os.path.join(UNITS, "standin.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STANDIN = _standin_module()


def status(running, default, verdict, last_known_good, fallback=None, target_health=None):
    """A status document (the fixture's shape) of a node with layers A+1 and B+1."""
    doc = copy.deepcopy(STANDIN.fixture_json("status_green.json"))
    layer_b = copy.deepcopy(doc["layers"][0])
    layer_b.update(name=f"{B}+1", origin=B, health=target_health)
    doc["layers"].append(layer_b)
    for layer in doc["layers"]:
        layer.update(running=layer["name"] == running, default=layer["name"] == default)
    doc.update(running_layer=running, default_layer=default, last_known_good=last_known_good,
               fallback=fallback, boot_counter="1" if fallback else None)
    doc["health"] = None if verdict is None else {
        "status": verdict, "layer": running, "time": "2026-12-03T10:00:00+00:00",
        "failed": [] if verdict == "green" else [
            {"name": "50-fail.sh", "kind": "script", "output": "required check failed\n"}],
        "checks": [], "scripts": []}
    return doc


def plan(**changes):
    event = copy.deepcopy(STANDIN.fixture_json("update_plan.json"))
    event["plan"].update(changes)
    return event


class Fleet:
    """Hosts with the local connection, each with its own stand-in CLI."""

    def __init__(self, base, names):
        self.base = base
        self.nodes = {}
        for name in names:
            directory = base / name
            directory.mkdir()
            self.nodes[name] = STANDIN.StandIn(str(directory))
            # the host's modules run with its stand-in first on PATH
            python = directory / "python"
            python.write_text(f'#!/bin/sh\nPATH="{directory}:$PATH" exec {sys.executable} "$@"\n')
            python.chmod(0o755)
        lines = ["[ovirt_nodes]"] + [
            f"{name} ansible_connection=local ansible_python_interpreter={base / name}/python"
            for name in names]
        (base / "inventory").write_text("\n".join(lines) + "\n")

    def play(self, playbook, *extra):
        env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": REPO, "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_HOST_KEY_CHECKING": "0", "ANSIBLE_RETRY_FILES_ENABLED": "0",
               "ANSIBLE_LOCAL_TEMP": str(self.base / "tmp"),
               "ANSIBLE_REMOTE_TEMP": str(self.base / "tmp"),
               "ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_FORCE_COLOR": "0",
               "PATH": BIN + os.pathsep + os.environ.get("PATH", "")}
        return subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i",
                               str(self.base / "inventory"), playbook, *extra],
                              env=env, cwd=self.base, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=600, check=False)


PLAY = """
- name: {name}
  hosts: ovirt_nodes
  serial: {serial}
  gather_facts: false
  tasks:
{tasks}
"""


def test_playbook_stops_at_a_refused_node_before_the_next_is_reached(tmp_path):
    """The collection's playbook, serial 2 and max_fail_percentage 0 from -e, three
    nodes: node1's preflight is refused, node2 (same batch) is fine; the failed
    share of the batch passes 0%, so the play stops and node3 is never asked (had
    serial not come from -e, node3 would have run its preflight with the others)."""
    fleet = Fleet(tmp_path, ["node1", "node2", "node3"])
    for node in fleet.nodes.values():
        node.answer(["status", "--json"], documents=[status(f"{A}+1", f"{A}+1", "green", f"{A}+1")])
    fleet.nodes["node1"].answer(PREFLIGHT, rc=1,
                                documents=[plan(problems=["pool pool00 is too small"])])
    for name in ("node2", "node3"):
        fleet.nodes[name].answer(PREFLIGHT, documents=[plan()])
    run = fleet.play("ovirt.node.rolling_update", "-e", f"rolling_update_image={IMAGE}",
                     "-e", "rolling_update_serial=2", "-e", "rolling_update_max_fail_percentage=0",
                     "-e", "ansible_become=false")
    assert run.returncode != 0, run.stdout
    assert "update refused, nothing was written: pool pool00 is too small" in run.stdout
    assert fleet.nodes["node1"].calls() == [["status", "--json"], PREFLIGHT]
    assert fleet.nodes["node2"].calls() == [["status", "--json"], PREFLIGHT]
    assert fleet.nodes["node3"].calls() == []


def test_up_to_date_green_nodes_are_left_alone(tmp_path):
    fleet = Fleet(tmp_path, ["node1", "node2"])
    for node in fleet.nodes.values():
        node.answer(["status", "--json"], documents=[status(f"{B}+1", f"{B}+1", "green", f"{B}+1")])
        node.answer(PREFLIGHT, rc=77, documents=[plan(up_to_date=True, from_layer=f"{B}+1",
                                                      problems=[f"{B} is already installed"])])
    run = fleet.play("ovirt.node.rolling_update", "-e", f"rolling_update_image={IMAGE}",
                     "-e", "ansible_become=false")
    assert run.returncode == 0, run.stdout
    for node in fleet.nodes.values():
        assert node.calls() == [["status", "--json"], PREFLIGHT]


AFTER_REBOOT = """
    - name: What the role knows when its node is back from the reboot
      ansible.builtin.set_fact:
        rolling_update_previous_layer: "{A}+1"
        rolling_update_target: "{B}+1"
        rolling_update_round: 0
        rolling_update_rounds: 4
        rolling_update_settle_delay: 1
        rolling_update_settle_timeout: 3
    - name: Settle
      ansible.builtin.include_role:
        name: ovirt.node.rolling_update
        tasks_from: settle.yml
    - name: Verdict
      ansible.builtin.include_role:
        name: ovirt.node.rolling_update
        tasks_from: verdict.yml
    - name: Reached the end
      ansible.builtin.debug:
        msg: "{{{{ inventory_hostname }}}} is green on {{{{ rolling_update_target }}}}"
""".format(A=A, B=B)


def test_a_node_that_falls_back_stops_the_whole_rollout(tmp_path):
    """Batch 1 (serial 2): node1 cannot answer once, then runs B+1 red on a try GRUB
    repeats, then comes up on A+1 by itself with B+1's red verdict recorded; node2
    is still judging, then green. The verdict fails node1 naming it and the failed
    check, the failure is fatal to the play, and node3 (batch 2) is never touched."""
    fleet = Fleet(tmp_path, ["node1", "node2", "node3"])
    red = {"status": "red", "time": "2026-12-03T10:00:00+00:00", "failed": ["50-fail.sh"],
           "failures": [{"name": "50-fail.sh", "output": "required check failed\n"}]}
    node1 = fleet.nodes["node1"]
    node1.answer(["status", "--json"], rc=1, once=True,
                 stderr="ovirt-node: error: /boot is not mounted\n")
    node1.answer(["status", "--json"], once=True,
                 documents=[status(f"{B}+1", f"{B}+1", "red", f"{A}+1", fallback=f"{A}+1")])
    node1.answer(["status", "--json"],
                 documents=[status(f"{A}+1", f"{A}+1", "green", f"{A}+1", target_health=red)])
    node1.answer(["rollback", "--to", f"{A}+1", "--dry-run", "--json"],
                 documents=[{"event": "plan", "from": f"{A}+1", "to": f"{A}+1",
                             "entry": f"{A}+1-k", "changed": False}])
    node2 = fleet.nodes["node2"]
    node2.answer(["status", "--json"], once=True,
                 documents=[status(f"{B}+1", f"{B}+1", None, f"{A}+1", fallback=f"{A}+1")])
    node2.answer(["status", "--json"], once=True,
                 documents=[status(f"{B}+1", f"{B}+1", "green", f"{A}+1", fallback=f"{A}+1")])
    node2.answer(["status", "--json"],
                 documents=[status(f"{B}+1", f"{B}+1", "green", f"{B}+1")])
    playbook = tmp_path / "after-reboot.yml"
    playbook.write_text(PLAY.format(name="after the reboot", serial="2", tasks=AFTER_REBOOT))
    run = fleet.play(str(playbook))
    assert run.returncode != 0, run.stdout
    message = (f"node1: {B}+1 failed to boot and the node fell back by itself (failed: "
               f"50-fail.sh); the node is back on {A}+1; the rollout stops here")
    assert message in " ".join(run.stdout.split()), run.stdout
    assert node1.calls() == [["status", "--json"]] * 3 + [
        ["rollback", "--to", f"{A}+1", "--dry-run", "--json"], ["status", "--json"]]
    assert node2.calls() == [["status", "--json"]] * 3
    assert fleet.nodes["node3"].calls() == []
    assert "node3" not in run.stdout.split("PLAY RECAP")[0]


def test_a_green_node_passes(tmp_path):
    fleet = Fleet(tmp_path, ["node1"])
    fleet.nodes["node1"].answer(["status", "--json"], once=True,
                                documents=[status(f"{B}+1", f"{B}+1", "green", f"{A}+1",
                                                  fallback=f"{A}+1")])
    fleet.nodes["node1"].answer(["status", "--json"],
                                documents=[status(f"{B}+1", f"{B}+1", "green", f"{B}+1")])
    playbook = tmp_path / "after-reboot.yml"
    playbook.write_text(PLAY.format(name="after the reboot", serial="1", tasks=AFTER_REBOOT))
    run = fleet.play(str(playbook))
    assert run.returncode == 0, run.stdout
    assert f"node1 is green on {B}+1" in run.stdout
    assert fleet.nodes["node1"].calls() == [["status", "--json"]] * 2


def test_a_node_that_never_settles_fails_after_the_timeout(tmp_path):
    fleet = Fleet(tmp_path, ["node1"])
    fleet.nodes["node1"].answer(["status", "--json"], rc=1,
                                stderr="ovirt-node: error: /boot is not mounted\n")
    fleet.nodes["node1"].answer(["rollback", "--to", f"{A}+1", "--dry-run", "--json"], rc=1,
                                stderr="ovirt-node: error: /boot is not mounted\n")
    playbook = tmp_path / "after-reboot.yml"
    playbook.write_text(PLAY.format(name="after the reboot", serial="1", tasks=AFTER_REBOOT))
    run = fleet.play(str(playbook))
    assert run.returncode != 0
    flat = " ".join(run.stdout.split())
    assert f"node1: {B}+1 did not settle (failed: the boot did not settle within 3 s)" in flat
    assert f"the node could NOT be brought back to {A}+1" in flat
    assert fleet.nodes["node1"].calls().count(["status", "--json"]) == 4 + 1


def test_a_node_red_before_the_update_is_not_touched(tmp_path):
    fleet = Fleet(tmp_path, ["node1", "node2"])
    for node in fleet.nodes.values():
        node.answer(["status", "--json"], documents=[status(f"{A}+1", f"{A}+1", "red", f"{A}+1")])
    run = fleet.play("ovirt.node.rolling_update", "-e", f"rolling_update_image={IMAGE}",
                     "-e", "ansible_become=false")
    assert run.returncode != 0
    assert (f"node1: this boot of {A}+1 is red (failed: 50-fail.sh); it is not updated"
            in " ".join(run.stdout.split())), run.stdout
    assert fleet.nodes["node1"].calls() == [["status", "--json"]]
    assert fleet.nodes["node2"].calls() == []


def test_a_node_that_stays_away_fails_after_its_rounds(tmp_path):
    """A node that never answers (ssh to a closed port): wait_for_connection gives
    up, each read is unreachable and settle.yml includes itself once per absence,
    up to the rounds; the verdict still runs (every step ignores the absence) and
    says the node could not be brought back."""
    fleet = Fleet(tmp_path, [])
    (tmp_path / "inventory").write_text(
        "[ovirt_nodes]\naway ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh "
        "ansible_ssh_common_args='-o ConnectTimeout=2'\n")
    playbook = tmp_path / "after-reboot.yml"
    playbook.write_text(PLAY.format(name="after the reboot", serial="1", tasks=AFTER_REBOOT))
    run = fleet.play(str(playbook))
    assert run.returncode != 0
    flat = " ".join(run.stdout.split())
    assert f"away: {B}+1 did not settle" in flat, run.stdout
    assert f"the node could NOT be brought back to {A}+1" in flat
    assert flat.count("TASK [ovirt.node.rolling_update : Read the node until its boot has settled]") == 4
