# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oVirt Node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.ovirt.node.plugins.modules import check
from ansible_collections.ovirt.node.tests.unit.plugins.modules.standin import (
    fixture_json, warnings_of)

ARGV = ["check", "--json"]


def checks_with(**statuses):
    document = copy.deepcopy(fixture_json("check_ok.json"))
    for item in document["checks"]:
        if item["name"] in statuses:
            item["status"], item["reason"] = statuses[item["name"]]
    return document


def test_all_ok(cli, run_module):
    cli.answer(ARGV, documents=[checks_with()])
    outcome = run_module(check, {})
    assert not outcome.failed and outcome.result["changed"] is False
    assert outcome.result["failed_checks"] == [] and outcome.result["warning_checks"] == []
    assert len(outcome.result["checks"]) == 9


def test_a_warning_warns_and_passes(cli, run_module):
    cli.answer(ARGV, documents=[checks_with(pool=("warning", "data 85.0% used (warns from 80%)"))])
    outcome = run_module(check, {})
    assert not outcome.failed
    assert outcome.result["warning_checks"] == ["pool"]
    assert warnings_of(outcome.result) == ["pool: data 85.0% used (warns from 80%)"]


def test_a_failed_check_fails_naming_it(cli, run_module):
    cli.answer(ARGV, rc=1, documents=[checks_with(
        entries=("failed", "entry x has no kernel /boot/x/vmlinuz"),
        grubenv=("failed", "grubenv is 0 bytes, not 1024"))])
    outcome = run_module(check, {})
    assert outcome.failed
    assert outcome.result["failed_checks"] == ["entries", "grubenv"]
    assert outcome.result["msg"] == ("entries: entry x has no kernel /boot/x/vmlinuz; "
                                     "grubenv: grubenv is 0 bytes, not 1024")


def test_no_node_is_the_cli_error(cli, run_module):
    cli.answer(ARGV, rc=1, stderr="ovirt-node: error: no volume group tagged imgbased:vg\n")
    outcome = run_module(check, {})
    assert outcome.failed and outcome.result["msg"] == "no volume group tagged imgbased:vg"
