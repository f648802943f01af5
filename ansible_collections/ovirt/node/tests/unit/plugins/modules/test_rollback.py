# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oVirt Node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ovirt.node.plugins.modules import rollback

A = "ovirt-node-ng-4.5.6-0.20250101.0+1"
B = "ovirt-node-ng-4.5.7-0.20250301.0+1"
ENTRY_A = A + "-6.1.0-28-cloud-amd64"
PLAN = ["rollback", "--to", A, "--dry-run", "--json"]
APPLY = ["rollback", "--to", A, "--yes", "--json"]


def test_rollback_plans_then_switches(cli, run_module):
    cli.answer(PLAN, documents=[{"event": "plan", "from": B, "to": A, "entry": ENTRY_A,
                                 "changed": True}])
    cli.answer(APPLY, documents=[{"event": "result", "from": B, "to": A, "entry": ENTRY_A}])
    outcome = run_module(rollback, {"to": A})
    assert not outcome.failed and outcome.result["changed"] is True
    assert (outcome.result["from"], outcome.result["to"]) == (B, A)
    assert cli.calls() == [PLAN, APPLY]


def test_already_the_default_changes_nothing(cli, run_module):
    cli.answer(PLAN, documents=[{"event": "plan", "from": A, "to": A, "entry": ENTRY_A,
                                 "changed": False}])
    outcome = run_module(rollback, {"to": A})
    assert not outcome.failed and outcome.result["changed"] is False
    assert cli.calls() == [PLAN]


def test_check_mode_with_diff(cli, run_module):
    cli.answer(PLAN, documents=[{"event": "plan", "from": B, "to": A, "entry": ENTRY_A,
                                 "changed": True}])
    outcome = run_module(rollback, {"to": A}, check_mode=True, diff=True)
    assert outcome.result["changed"] is True and cli.calls() == [PLAN]
    assert outcome.result["diff"] == {"before": "boot default: %s\n" % B,
                                      "after": "boot default: %s (%s)\n" % (A, ENTRY_A)}


def test_without_to_and_with_force(cli, run_module):
    plan = ["rollback", "--force", "--dry-run", "--json"]
    cli.answer(plan, documents=[{"event": "plan", "from": B, "to": A, "entry": ENTRY_A,
                                 "changed": True}])
    cli.answer(["rollback", "--force", "--yes", "--json"],
               documents=[{"event": "result", "from": B, "to": A, "entry": ENTRY_A}])
    assert not run_module(rollback, {"force": True}).failed
    assert cli.calls()[0] == plan


def test_refusal_is_the_cli_error(cli, run_module):
    cli.answer(PLAN, rc=1, stderr="ovirt-node: error: %s failed to boot before (marked bad); "
                                  "pass --force to roll back to it anyway\n" % A)
    outcome = run_module(rollback, {"to": A})
    assert outcome.failed and outcome.result["msg"].endswith("pass --force to roll back to it anyway")
    assert cli.calls() == [PLAN]
