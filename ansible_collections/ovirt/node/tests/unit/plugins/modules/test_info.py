# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oVirt Node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ovirt.node.plugins.modules import info

from ansible_collections.ovirt.node.tests.unit.plugins.modules.standin import fixture_json


def test_status_becomes_the_ovirt_node_fact_unchanged(cli, run_module):
    status = fixture_json("status_green.json")
    cli.answer(["status", "--json"], documents=[status])
    outcome = run_module(info, {})
    assert outcome.code == 0 and not outcome.failed
    assert outcome.result["changed"] is False
    assert outcome.result["ansible_facts"]["ovirt_node"] == status
    assert cli.calls() == [["status", "--json"]]


def test_vg_is_passed_to_the_cli(cli, run_module):
    cli.answer(["status", "--vg", "onn", "--json"], documents=[fixture_json("status_green.json")])
    outcome = run_module(info, {"vg": "onn"})
    assert not outcome.failed
    assert cli.calls() == [["status", "--vg", "onn", "--json"]]


def test_runs_in_check_mode(cli, run_module):
    cli.answer(["status", "--json"], documents=[fixture_json("status_green.json")])
    assert not run_module(info, {}, check_mode=True).failed


def test_cli_error_is_the_message(cli, run_module):
    cli.answer(["status", "--json"], rc=1,
               stderr="ovirt-node: error: no volume group tagged imgbased:vg\n")
    outcome = run_module(info, {})
    assert outcome.code == 1 and outcome.failed
    assert outcome.result["msg"] == "no volume group tagged imgbased:vg"
    assert outcome.result["rc"] == 1


def test_output_that_is_not_json_fails(cli, run_module):
    cli.answer(["status", "--json"], stdout="Volume group onn: 32 GiB\n")
    outcome = run_module(info, {})
    assert outcome.failed
    assert "not a JSON object: Volume group onn" in outcome.result["msg"]
