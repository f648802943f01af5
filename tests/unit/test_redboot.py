"""The redboot rule: reboot only while GRUB counts tries of the layer that failed.

decide() is pure (grubenv values, entries, running layer); act() is run on a
real /boot tree with the reboot command replaced.
"""

import pytest

from org_ovirt_node.lifecycle import redboot
from org_ovirt_node.lifecycle.node import Entry, Node
from tests.unit.test_lifecycle_boot import A, B, make_boot

OLD, NEW = A, B


def entry(layer, entry_id=None, title=None):
    return Entry(entry_id=entry_id or f"{layer}-6.1", title=title or f"{layer} (6.1)",
                 layer=layer, version="6.1", linux="", initrd="", options="")


ENTRIES = [entry(NEW), entry(OLD)]
ARMED = {"saved_entry": f"{NEW}-6.1", "boot_counter": "2", "boot_fallback": f"{OLD}-6.1"}


@pytest.mark.parametrize("counter", ["2", "1", "0"])
def test_a_try_of_the_new_layer_reboots(counter):
    decision = redboot.decide(dict(ARMED, boot_counter=counter), ENTRIES, NEW)
    assert decision["reboot"] is True
    assert decision["reason"].startswith(f"rebooting: {NEW} failed its health checks")
    assert decision["fallback"] == OLD and decision["default"] == NEW


def test_the_last_try_says_grub_boots_the_fallback():
    decision = redboot.decide(dict(ARMED, boot_counter="0"), ENTRIES, NEW)
    assert f"tries are used up, so GRUB boots the fallback {OLD}" in decision["reason"]
    decision = redboot.decide(dict(ARMED, boot_counter="1"), ENTRIES, NEW)
    assert "tries it 1 more time, then boots the fallback" in decision["reason"]


@pytest.mark.parametrize("env, running, why", [
    (dict(ARMED, boot_counter="0"), OLD, "is not the layer being tried"),
    (ARMED, OLD, "is not the layer being tried"),
    ({"saved_entry": f"{NEW}-6.1"}, NEW, "no boot counter is armed"),
    ({"saved_entry": f"{NEW}-6.1", "boot_counter": "2"}, NEW, "no boot counter is armed"),
    ({"saved_entry": f"{NEW}-6.1", "boot_fallback": f"{OLD}-6.1"}, NEW,
     "no boot counter is armed"),
    (dict(ARMED, boot_counter="-1"), NEW, "not a count of tries left"),
    (dict(ARMED, boot_counter="x"), NEW, "not a count of tries left"),
    (dict(ARMED, saved_entry="gone-6.1"), NEW, "names no boot entry"),
    (dict(ARMED, boot_fallback="gone-6.1"), NEW, "boot_fallback 'gone-6.1' names no boot"),
    (dict(ARMED, boot_fallback=f"{NEW}-6.1"), NEW, "boots " + NEW + " too"),
    (ARMED, None, "not booted from a node layer"),
    ({}, NEW, "no boot counter is armed"),
])
def test_no_reboot_where_it_cannot_help(env, running, why):
    decision = redboot.decide(env, ENTRIES, running)
    assert decision["reboot"] is False
    assert decision["reason"].startswith("not rebooting: ") and why in decision["reason"]


def test_entries_are_found_by_title_too():
    env = dict(ARMED, saved_entry=f"{NEW} (6.1)", boot_fallback=f"{OLD} (6.1)")
    assert redboot.decide(env, ENTRIES, NEW)["reboot"] is True


def test_a_second_kernel_of_the_same_layer_is_not_a_fallback():
    entries = ENTRIES + [entry(NEW, entry_id=f"{NEW}-6.2")]
    env = dict(ARMED, boot_fallback=f"{NEW}-6.2")
    assert redboot.decide(env, entries, NEW)["reboot"] is False


def test_act_reboots_only_when_decided_and_not_on_a_dry_run(tmp_path):
    boot = make_boot(tmp_path, {"saved_entry": f"{B}-6.1", "boot_counter": "1",
                                "boot_fallback": f"{A}-6.1"})
    calls = []
    decision = redboot.act(Node(None, str(boot), B), runner=calls.append)
    assert decision["reboot"] and calls == [["systemctl", "reboot"]]
    decision = redboot.act(Node(None, str(boot), B), dry_run=True, runner=calls.append)
    assert decision["reboot"] and decision["dry_run"] and len(calls) == 1
    decision = redboot.act(Node(None, str(boot), A), runner=calls.append)
    assert not decision["reboot"] and len(calls) == 1
