# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oVirt Node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures: `cli`, the stand-in ovirt-node on PATH (standin.py), and
`run_module`, a module's main() run with given arguments."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.ovirt.node.tests.unit.plugins.modules.standin import Outcome, StandIn


@pytest.fixture
def cli(tmp_path, monkeypatch):
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", "%s%s%s" % (directory, os.pathsep, os.environ.get("PATH", "")))
    return StandIn(str(directory))


@pytest.fixture
def run_module(capsys):
    """Run a module's main() with ARGS (and _ansible_check_mode / _ansible_diff);
    return its exit code and the JSON it printed."""
    def run(module, args, check_mode=False, diff=False):
        args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exit_:
                module.main()
        out = capsys.readouterr().out
        return Outcome(exit_.value.code, json.loads(out))
    return run
