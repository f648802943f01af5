"""The real node's whole life online, on its own disk: one story, its boots shared.

The node is the Debian image of squashfs-build/node/ (systemd, LVM, GRUB,
sshd, Cockpit and the ovirt-node .deb). It is installed with the CLI in a
virtme-ng VM (the host has no device-mapper), then booted from its disk by
firmware in qemu and driven over a virtio-serial command port while it runs
(tests/support/livenode.py). Everything below runs on the booted node, with
no --vg:

 1. BIOS boot through the disk's GRUB: multi-user, health green, counter cleared.
 2. Online update to B, an /etc edit after it, `systemctl reboot`: B runs, the
    edit was carried over at shutdown (finalize), health green, counter cleared.
 3. Online update to C (2 tries) with a failing required check planted in C's
    layer: the node reboots by itself, GRUB counts down, B boots again and stays.
 4. Online rollback to A, power off, one UEFI (OVMF) boot: A runs.
 5. Power cuts (qemu killed) during an online update to D: in the deploy, at the
    /etc merge and at the switch. Each time A boots, `check` names the
    leftovers; a second lifecycle command meanwhile is refused by the lock;
    then a re-run completes, and pin/gc keep what they must.

The story runs once (module fixture); the tests read what it recorded.
"""

import json
import os
import pathlib
import shutil
import sys
import time

import pytest

from tests.support.livenode import LiveNode
from tests.support.node_images import LAYERS, NODE_DIR, NVRS, images_disk, node_images
from tests.support.vm import REPO, run_in_vm, sparse_disk

pytestmark = pytest.mark.vm
GiB = 1 << 30
IMAGES = "/run/node-images"
TRIES_C = 2
RED_CHECK = "50-test-storage-reachable.sh"
INSTALL_GUEST = os.path.join(REPO, "tests", "vm", "guest_node_install.py")


def image_on_node(key):
    return f"{IMAGES}/{NVRS[key]}.squashfs"


class Story:
    """Runs the chapters in order; `facts` holds what each one saw."""

    def __init__(self, work, images):
        self.work = work
        self.images = images
        self.disk = sparse_disk(str(work / "node.img"), 32 * GiB)
        drive = images_disk(str(work / "images.img"), [images[key] for key in "BCD"])
        self.node = LiveNode(self.disk, str(work), drives=[drive])
        self.facts = {}

    def save(self):
        with open(self.work / "facts.json", "w", encoding="utf-8") as handle:
            json.dump(self.facts, handle, indent=1, default=str)

    def fact(self, name, value):
        self.facts[name] = value
        self.save()
        return value

    def record(self, name, *argv, timeout=1800, must=False):
        """Run ARGV on the node and keep {"rc", "stdout", "stderr"} as fact NAME.

        MUST: the story cannot go on without it, so a failure ends the story here.
        """
        result = self.fact(name, self.node.run(*argv, check=False, timeout=timeout))
        if must and result["rc"] != 0:
            raise AssertionError(f"{name}: rc {result['rc']}\n{result['stderr'][-3000:]}")
        return result

    def observe(self, name):
        """What every boot is asked: layer, system state, status, health, motd."""
        node = self.node
        return self.fact(name, {
            "layer": node.running_layer(),
            "status": node.json("ovirt-node", "status", "--json"),
            "health": json.loads(node.sh("cat /run/ovirt-node/health.json", check=False)
                                 or "null"),
            "units": node.sh("systemctl is-active ovirt-node-health.service "
                             "ovirt-node-boot-ok.service", check=False).split(),
            "motd": node.sh("cat /run/motd.d/ovirt-node-health", check=False),
            "boots": node.boots,
        })

    def mount_images(self):
        self.node.sh(f"mkdir -p {IMAGES} && (mountpoint -q {IMAGES} || "
                     f"mount -o ro LABEL=node-images {IMAGES})")

    def run(self):
        install = run_in_vm(f'"{sys.executable}" "{INSTALL_GUEST}"\n', [self.disk],
                            str(self.work), env={"IMAGE_A": self.images["A"],
                                                 "LAYER_A": LAYERS["A"]})
        assert (self.work / "install.done").exists(), (
            install.stdout[-3000:] + (self.work / "install.err").read_text()[-3000:])
        node = self.node
        try:
            self.chapters(node)
        finally:
            node.kill()
            self.fact("timings", node.timings)
            print("\nnode story boots:", ", ".join(f"{what} {seconds:.0f} s"
                                                    for what, seconds in node.timings))

    def chapters(self, node):
        # 1. first boot, BIOS
        node.start("bios")
        self.fact("state_a", node.wait_booted(what="A (BIOS)"))
        self.observe("boot_a")
        self.mount_images()
        # 2. online update, a late /etc edit, reboot
        self.record("update_b", "ovirt-node", "update", "--image", image_on_node("B"),
                    "--yes", "--json", must=True)
        self.fact("status_after_update_b", node.json("ovirt-node", "status", "--json"))
        node.sh("echo edited-after-the-update > /etc/ovirt-node-test/late.conf && "
                "echo node-renamed-late > /etc/hostname && rm -f /etc/hosts.allow")
        self.fact("state_b", node.reboot("B"))
        self.observe("boot_b")
        self.fact("late_edit", node.sh("cat /etc/ovirt-node-test/late.conf /etc/hostname; "
                                       "ls /etc/hosts.allow 2>&1", check=False))
        self.fact("finalize_journal", node.sh("journalctl -b -1 -u ovirt-node-finalize "
                                              "--no-pager -o cat", check=False))
        # 3. an update whose layer fails a required check: GRUB falls back by itself
        self.mount_images()
        self.record("update_c", "ovirt-node", "update", "--image", image_on_node("C"),
                    "--tries", str(TRIES_C), "--yes", "--json", must=True)
        node.sh(f"""set -e
lvm lvchange -ay onn/{LAYERS['C']}
mkdir -p /run/c && mount /dev/onn/{LAYERS['C']} /run/c
mkdir -p /run/c/etc/ovirt-node/health.d/required.d
printf '#!/bin/sh\\necho "storage domain not reachable" >&2\\nexit 1\\n' \\
    > /run/c/etc/ovirt-node/health.d/required.d/{RED_CHECK}
chmod 755 /run/c/etc/ovirt-node/health.d/required.d/{RED_CHECK}
umount /run/c""")
        seen = []
        try:
            node.run("systemctl", "reboot", check=False, timeout=30)
        except Exception:                     # pylint: disable=broad-except
            pass
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            node._disconnect()                # pylint: disable=protected-access
            state = node.wait_booted(timeout=deadline - time.monotonic(), what="C or fallback")
            layer = node.running_layer()
            seen.append((layer, state))
            if layer != LAYERS["C"]:
                break
        self.fact("fallback_boots", seen)
        boots = node.boots
        self.observe("boot_fallback")
        time.sleep(20)
        self.fact("stayed", {"boots_before": boots, "boot_id_same":
                             node.run("cat", "/proc/sys/kernel/random/boot_id")["stdout"].strip()
                             == node.boot_id})
        self.fact("health_record", json.loads(node.sh("cat /boot/ovirt-node/health.json",
                                                      check=False) or "null"))
        self.mount_images()
        self.record("reuse_bad", "ovirt-node", "update", "--image", image_on_node("C"), "--yes")
        self.fact("lvs_after_refusal", node.sh("lvm lvs --noheadings -o lv_name onn | sort"))
        # 4. rollback online, then one UEFI boot
        self.record("rollback", "ovirt-node", "rollback", "--to", LAYERS["A"], "--yes",
                    "--json", must=True)
        node.run("systemctl", "poweroff", check=False, timeout=30)
        node.wait_powered_off()
        node.start("uefi")
        self.fact("state_uefi", node.wait_booted(what="A (UEFI)"))
        self.observe("boot_uefi")
        # 5. power cuts during an online update to D
        self.power_cut(node, "deploy", "")
        self.power_cut(node, "etc", "etc")
        self.power_cut(node, "switch", "switch")
        self.mount_images()
        self.record("update_d", "ovirt-node", "update", "--image", image_on_node("D"),
                    "--yes", "--json")
        self.record("check_d", "ovirt-node", "check", "--json")
        self.record("pin", "ovirt-node", "pin", LAYERS["B"], "--yes")
        self.record("gc", "ovirt-node", "gc", "--keep", "1", "--yes", "--json")
        self.fact("status_end", node.json("ovirt-node", "status", "--json"))
        self.record("unpin", "ovirt-node", "unpin", LAYERS["B"], "--yes")

    def power_cut(self, node, name, stop_before):
        """Start an update to D, cut the power in it, boot again, look."""
        self.mount_images()
        env = f"OVIRT_NODE_STOP_BEFORE={stop_before} " if stop_before else ""
        log = f"/var/tmp/update-{name}.log"
        node.sh(f"{env}setsid ovirt-node update --image {image_on_node('D')} --yes --json "
                f"> {log} 2>&1 < /dev/null &")
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            events = [json.loads(line) for line in node.sh(f"cat {log}").splitlines()
                      if line.startswith("{")]
            if stop_before:
                reached = any(event.get("event") == "step" and event.get("step") == stop_before
                              for event in events)
            else:
                reached = any(event.get("event") == "progress" and event.get("step") == "base"
                              and 0 < event.get("done", 0) for event in events)
            if reached:
                break
            time.sleep(1)
        else:
            raise AssertionError(f"the update never reached {name}: {node.sh(f'cat {log}')}")
        if stop_before:
            self.record(f"locked_{name}", "ovirt-node", "rollback", "--to", LAYERS["B"],
                        "--yes")
        self.fact(f"cut_{name}_log", node.sh(f"cat {log}"))
        node.kill()
        node.start("bios")
        self.fact(f"state_cut_{name}", node.wait_booted(what=f"A after a cut at {name}"))
        self.observe(f"boot_cut_{name}")
        self.record(f"check_cut_{name}", "ovirt-node", "check", "--json")


@pytest.fixture(scope="module")
def story():
    # A folder of its own, not pytest's tmp (which keeps only the last 3 runs'):
    # the console log and facts.json stay for whoever reads a failure.
    work = pathlib.Path(NODE_DIR, "story")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    run = Story(work, node_images())
    run.run()
    return run


def fact(story, name):
    return story.facts[name]


def ok(story, name):
    result = fact(story, name)
    assert result["rc"] == 0, f"{name}: rc {result['rc']}\n{result['stderr'][-3000:]}"
    return result


def last_json(result):
    return json.loads([line for line in result["stdout"].splitlines() if line][-1])


def checks(result):
    return {item["name"]: item for item in last_json(result)["checks"]}


def layer_of(status, name):
    return next(layer for layer in status["layers"] if layer["name"] == name)


def test_the_first_boot_reaches_multi_user_with_health_green(story):
    boot = fact(story, "boot_a")
    assert fact(story, "state_a") == "running", boot
    assert boot["layer"] == LAYERS["A"]
    assert boot["health"]["status"] == "green", boot["health"]
    assert boot["units"] == ["active", "active"]
    assert boot["motd"].strip() == "node status: OK"
    assert boot["status"]["boot_counter"] is None
    assert boot["status"]["last_known_good"] == LAYERS["A"]


def test_an_online_update_switches_last_and_boots_the_new_layer(story):
    events = [json.loads(line) for line in ok(story, "update_b")["stdout"].splitlines() if line]
    steps = [event["step"] for event in events if event["event"] == "step"]
    assert steps[-2:] == ["switch", "gc"] and steps.index("etc") < steps.index("switch")
    after = fact(story, "status_after_update_b")
    assert after["default_layer"] == LAYERS["B"] and after["boot_counter"] == "3"
    assert layer_of(after, LAYERS["A"])["running"]
    boot = fact(story, "boot_b")
    assert fact(story, "state_b") == "running", boot
    assert boot["layer"] == LAYERS["B"]
    assert boot["health"]["status"] == "green"
    assert boot["status"]["boot_counter"] is None
    assert boot["status"]["last_known_good"] == LAYERS["B"]


def test_etc_edits_made_after_the_update_reach_the_new_layer(story):
    seen = fact(story, "late_edit").splitlines()
    assert seen[:2] == ["edited-after-the-update", "node-renamed-late"], seen
    assert "No such file" in seen[2]


def test_a_red_boot_reboots_by_itself_and_falls_back_for_good(story):
    ok(story, "update_c")
    boots = fact(story, "fallback_boots")
    assert [layer for layer, _ in boots] == [LAYERS["C"]] * (len(boots) - 1) + [LAYERS["B"]]
    assert 1 <= len(boots) - 1 <= TRIES_C
    boot = fact(story, "boot_fallback")
    assert boot["layer"] == LAYERS["B"] and boot["health"]["status"] == "green"
    assert boot["status"]["bad"] == [LAYERS["C"]]
    assert boot["status"]["default_layer"] == LAYERS["B"]
    assert boot["status"]["boot_counter"] is None
    assert fact(story, "stayed")["boot_id_same"]
    red = fact(story, "health_record")[LAYERS["C"]]
    assert red["status"] == "red"
    assert [item["name"] for item in red["failed"]] == [RED_CHECK]
    assert "storage domain not reachable" in red["failed"][0]["output"]


def test_a_refused_online_update_leaves_nothing_behind(story):
    refused = fact(story, "reuse_bad")
    assert refused["rc"] == 1 and "--force" in refused["stderr"]
    assert "Traceback" not in refused["stderr"]
    lvs = fact(story, "lvs_after_refusal").split()
    assert sorted(lvs) == sorted(
        ["pool00", "var", "var_log", "var_log_audit", "var_tmp", "var_crash", "home", "tmp",
         "swap"] + [NVRS[key] for key in "ABC"] + [LAYERS[key] for key in "ABC"]) or \
        len([name for name in lvs if name.startswith("ovirt-node-ng")]) == 6, lvs


def test_an_online_rollback_and_a_uefi_boot_bring_back_the_previous_layer(story):
    assert last_json(ok(story, "rollback"))
    boot = fact(story, "boot_uefi")
    assert fact(story, "state_uefi") == "running", boot
    assert boot["layer"] == LAYERS["A"] and boot["health"]["status"] == "green"


@pytest.mark.parametrize("cut,left", [("deploy", [NVRS["D"]]),
                                      ("etc", [NVRS["D"], LAYERS["D"]]),
                                      ("switch", [NVRS["D"], LAYERS["D"]])])
def test_a_power_cut_during_an_update_leaves_the_old_layer_booting(story, cut, left):
    boot = fact(story, f"boot_cut_{cut}")
    assert boot["layer"] == LAYERS["A"], boot
    assert boot["health"]["status"] == "green"
    assert boot["status"]["default_layer"] == LAYERS["A"]
    orphans = checks(fact(story, f"check_cut_{cut}"))["orphans"]
    assert orphans["status"] == "failed"
    for name in left:
        assert f"LV onn/{name}" in orphans["reason"], orphans


@pytest.mark.parametrize("cut", ["etc", "switch"])
def test_a_second_lifecycle_command_is_refused_by_the_lock(story, cut):
    refused = fact(story, f"locked_{cut}")
    assert refused["rc"] == 1
    assert "another ovirt-node command is running (update" in refused["stderr"]


def test_a_re_run_completes_and_gc_keeps_the_running_and_pinned_layers(story):
    ok(story, "update_d")
    assert checks(fact(story, "check_d"))["orphans"]["status"] == "ok"
    ok(story, "pin")
    removed = last_json(ok(story, "gc"))
    end = fact(story, "status_end")
    assert end["default_layer"] == LAYERS["D"]
    bases = {base["name"] for base in end["bases"]}
    assert {NVRS["A"], NVRS["B"], NVRS["D"]} <= bases      # running, pinned, default
    assert NVRS["C"] not in bases, removed
    ok(story, "unpin")


def test_no_command_printed_a_traceback(story):
    for name, value in story.facts.items():
        if isinstance(value, dict) and "stderr" in value:
            assert "Traceback" not in value["stderr"], name
