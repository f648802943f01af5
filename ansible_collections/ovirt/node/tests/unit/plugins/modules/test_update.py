# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oVirt Node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

import pytest

from ansible_collections.ovirt.node.plugins.modules import update
from ansible_collections.ovirt.node.tests.unit.plugins.modules.standin import (
    fixture_json, fixture_text, warnings_of)

IMAGE = "/var/tmp/b.squashfs"
PREFLIGHT = ["update", "--image", IMAGE, "--dry-run", "--unchanged-exit-77", "--json"]
APPLY = ["update", "--image", IMAGE, "--unchanged-exit-77", "--yes", "--json"]
PRE_EVENTS = [{"event": "step", "step": "preflight", "message": "Checking"}]


def plan_event(**changes):
    event = copy.deepcopy(fixture_json("update_plan.json"))
    event["plan"].update(changes)
    return event


def real_run(plan=None, events=None):
    """What `update --json` prints: its preflight step, its plan, then the rest."""
    if events is None:
        events = [json.loads(line) for line in fixture_text("update_events.jsonl").splitlines()]
    return events[:1] + [plan or plan_event()] + events[1:]


def test_update_is_one_run_of_the_cli(cli, run_module):
    cli.answer(APPLY, documents=real_run())
    outcome = run_module(update, {"image": IMAGE})
    assert outcome.code == 0 and not outcome.failed, outcome.result
    assert outcome.result["changed"] is True
    assert cli.calls() == [APPLY]
    result = outcome.result["result"]
    assert result["layer"] == "ovirt-node-ng-4.5.7-0.20250301.0+1"
    assert result["etc_conflicts"] == ["ssh/sshd_config"]
    assert "event" not in result
    assert outcome.result["steps"] == ["preflight", "base", "layer", "etc", "var", "packages",
                                       "boot", "switch", "gc"]
    assert outcome.result["plan"]["from_layer"] == "ovirt-node-ng-4.5.6-0.20250101.0+1"
    assert any("sshd_config.imgnew" in warning for warning in warnings_of(outcome.result))


@pytest.mark.parametrize("check_mode", [False, True])
def test_up_to_date_changes_nothing(cli, run_module, check_mode):
    argv = PREFLIGHT if check_mode else APPLY
    cli.answer(argv, rc=77, documents=PRE_EVENTS + [plan_event(
        up_to_date=True, from_layer="ovirt-node-ng-4.5.7-0.20250301.0+1",
        problems=["ovirt-node-ng-4.5.7-0.20250301.0 is already installed (layer "
                  "ovirt-node-ng-4.5.7-0.20250301.0+1); use ovirt-node rollback --to "
                  "ovirt-node-ng-4.5.7-0.20250301.0 to boot it"])])
    outcome = run_module(update, {"image": IMAGE}, check_mode=check_mode)
    assert not outcome.failed and outcome.result["changed"] is False
    assert outcome.result["msg"] == ("ovirt-node-ng-4.5.7-0.20250301.0+1 (of "
                                     "ovirt-node-ng-4.5.7-0.20250301.0) is the boot default already")
    assert cli.calls() == [argv]


@pytest.mark.parametrize("diff", [False, True])
def test_check_mode_runs_only_the_preflight(cli, run_module, diff):
    cli.answer(PREFLIGHT, documents=[plan_event()])
    outcome = run_module(update, {"image": IMAGE}, check_mode=True, diff=diff)
    assert not outcome.failed and outcome.result["changed"] is True
    assert cli.calls() == [PREFLIGHT]
    assert outcome.result["result"] == {}
    assert ("diff" in outcome.result) is diff
    if diff:
        before = outcome.result["diff"]["before"].splitlines()
        after = outcome.result["diff"]["after"].splitlines()
        assert before == ["boot default: ovirt-node-ng-4.5.6-0.20250101.0+1"]
        assert after[0] == ("boot default: ovirt-node-ng-4.5.7-0.20250301.0+1 "
                            "(ovirt-node-ng-4.5.7-0.20250301.0+1-6.1.0-28-cloud-amd64), fallback "
                            "ovirt-node-ng-4.5.6-0.20250101.0+1-6.1.0-28-cloud-amd64")
        assert "new LV ovirt-node-ng-4.5.7-0.20250301.0" in after
        assert "new LV ovirt-node-ng-4.5.7-0.20250301.0+1" in after
        assert "/etc/ssh/sshd_config: conflict" in after
        assert "/var/lib/new-service: added" in after


def test_diff_names_what_gc_removes(cli, run_module):
    cli.answer(PREFLIGHT, documents=[plan_event(gc_removes=["ovirt-node-ng-4.5.5-0.1"])])
    outcome = run_module(update, {"image": IMAGE}, check_mode=True, diff=True)
    assert "image ovirt-node-ng-4.5.5-0.1" in outcome.result["diff"]["before"]


def test_refused_preflight_fails_with_every_problem_and_writes_nothing(cli, run_module):
    problems = ["the image is debian 13, the node debian 12 (--allow-other-os)",
                "pool pool00 needs 2.1 GiB free for the image, has 1.0 GiB"]
    message = "update refused, nothing was written: " + "; ".join(problems)
    cli.answer(APPLY, rc=1, documents=PRE_EVENTS + [plan_event(problems=problems)],
               stderr="ovirt-node: error: %s\n" % message)
    outcome = run_module(update, {"image": IMAGE})
    assert outcome.failed
    assert outcome.result["msg"] == message
    assert outcome.result["plan"]["problems"] == problems
    assert cli.calls() == [APPLY]


def test_refused_in_check_mode_fails_too(cli, run_module):
    cli.answer(PREFLIGHT, rc=1, documents=[plan_event(problems=["no room"])])
    assert run_module(update, {"image": IMAGE}, check_mode=True).failed


def test_cli_error_before_any_plan_is_the_message(cli, run_module):
    cli.answer(APPLY, rc=1, stderr="ovirt-node: error: /var/tmp/b.squashfs: no such file\n")
    outcome = run_module(update, {"image": IMAGE})
    assert outcome.failed and outcome.result["msg"] == "/var/tmp/b.squashfs: no such file"
    assert outcome.result["rc"] == 1


def test_failed_update_is_its_error_line_with_the_steps_it_ran(cli, run_module):
    events = [json.loads(line) for line in fixture_text("update_events.jsonl").splitlines()][:4]
    events.append({"event": "warning", "message": "update failed: pool full"})
    cli.answer(APPLY, rc=1, documents=real_run(events=events),
               stderr="ovirt-node: error: lvcreate: insufficient free space\n")
    outcome = run_module(update, {"image": IMAGE})
    assert outcome.failed and outcome.result["msg"] == "lvcreate: insufficient free space"
    assert outcome.result["steps"] == ["preflight", "base", "layer"]


def test_package_from_a_repository(cli, run_module):
    source = ["update", "--package", "ovirt-node-ng-image-update", "--repo", "file:///srv/repo"]
    event = plan_event()
    event["package"] = {"name": "ovirt-node-ng-image-update", "version": "4.5.7-0.20250301.0",
                        "format": "deb", "repo": "file:///srv/repo",
                        "files": ["ovirt-node-ng-image-update_4.5.7-0.20250301.0_all.deb"],
                        "image": "ovirt-node-ng-4.5.7-0.20250301.0.squashfs.img"}
    final = {"event": "result", "layer": "ovirt-node-ng-4.5.7-0.20250301.0+1",
             "from_layer": "ovirt-node-ng-4.5.6-0.20250101.0+1",
             "default_entry": "ovirt-node-ng-4.5.7-0.20250301.0+1-6.1.0-28-cloud-amd64",
             "fallback_entry": "ovirt-node-ng-4.5.6-0.20250101.0+1-6.1.0-28-cloud-amd64",
             "etc_conflicts": [], "package": event["package"], "output": "Setting up ..."}
    cli.answer(source + ["--unchanged-exit-77", "--yes", "--json"], documents=[
        {"event": "step", "step": "download", "message": "Downloading"}, event,
        {"event": "step", "step": "install", "message": "Installing"}, final])
    outcome = run_module(update, {"package": "ovirt-node-ng-image-update",
                                  "repo": "file:///srv/repo"})
    assert not outcome.failed and outcome.result["changed"] is True
    assert outcome.result["package"]["version"] == "4.5.7-0.20250301.0"
    assert outcome.result["result"]["layer"] == "ovirt-node-ng-4.5.7-0.20250301.0+1"
    assert outcome.result["steps"] == ["download", "install"]


def test_options_are_passed_as_the_cli_spells_them(cli, run_module):
    argv = ["update", "--image", IMAGE, "--allow-downgrade", "--force", "--keep", "3",
            "--tries", "1", "--skip-persisted", "vim", "--skip-persisted", "htop",
            "--no-persist", "--dry-run", "--unchanged-exit-77", "--vg", "onn", "--json"]
    cli.answer(argv, documents=[plan_event()])
    outcome = run_module(update, {"image": IMAGE, "allow_downgrade": True, "force": True,
                                  "keep": 3, "tries": 1, "skip_persisted": ["vim", "htop"],
                                  "persist": False, "vg": "onn"}, check_mode=True)
    assert not outcome.failed, outcome.result
    assert cli.calls() == [argv]


@pytest.mark.parametrize("args, message", [
    ({}, "one of the following is required: image, package"),
    ({"image": IMAGE, "package": "p", "repo": "file:///r"}, "mutually exclusive"),
    ({"package": "p"}, "parameters are required together: package, repo"),
])
def test_bad_arguments_fail_before_the_cli_runs(cli, run_module, args, message):
    outcome = run_module(update, args)
    assert outcome.failed and message in outcome.result["msg"]
    assert cli.calls() == []
