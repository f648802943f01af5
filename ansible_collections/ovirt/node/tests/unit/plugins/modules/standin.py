# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oVirt Node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stand-in `ovirt-node` on PATH that answers with recorded CLI output.

The module is what is under test, not the CLI: each test says which command
lines the stand-in answers and with what (exit status, JSON lines in the
shapes the real CLI prints, recorded in fixtures/, and stderr), and reads back
the command lines the module ran. A command line with no answer exits 99.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import sys


FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

STAND_IN = r'''#!{python}
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
argv = sys.argv[1:]
with open(os.path.join(here, "calls.jsonl"), "a") as log:
    log.write(json.dumps(argv) + "\n")
with open(os.path.join(here, "answers.json")) as stream:
    answers = json.load(stream)
for index, answer in enumerate(answers):
    if answer["argv"] == argv:
        if answer.get("once"):
            del answers[index]
            with open(os.path.join(here, "answers.json"), "w") as stream:
                json.dump(answers, stream)
        sys.stdout.write(answer["stdout"])
        sys.stderr.write(answer["stderr"])
        sys.exit(answer["rc"])
sys.stderr.write("stand-in: no answer for %r\n" % (argv,))
sys.exit(99)
'''


def fixture_text(name):
    with open(os.path.join(FIXTURES, name)) as stream:
        return stream.read()


def fixture_json(name):
    return json.loads(fixture_text(name))


class StandIn(object):
    """The stand-in CLI of one test: answers to give, calls it got."""

    def __init__(self, directory):
        self.directory = directory
        self.answers = []
        path = os.path.join(directory, "ovirt-node")
        with open(path, "w") as stream:
            stream.write(STAND_IN.format(python=sys.executable))
        os.chmod(path, stat.S_IRWXU)
        self._save()

    def _save(self):
        with open(os.path.join(self.directory, "answers.json"), "w") as stream:
            json.dump(self.answers, stream)

    def answer(self, argv, rc=0, documents=(), stdout=None, stderr="", once=False):
        """Answer ARGV with RC, the DOCUMENTS as JSON lines (or raw STDOUT) and STDERR;
        ONCE: only the first time (answers to one command line are given in order)."""
        if stdout is None:
            stdout = "".join(json.dumps(doc, sort_keys=True) + "\n" for doc in documents)
        self.answers.append(dict(argv=list(argv), rc=rc, stdout=stdout, stderr=stderr,
                                 once=once))
        self._save()

    def calls(self):
        try:
            with open(os.path.join(self.directory, "calls.jsonl")) as stream:
                return [json.loads(line) for line in stream]
        except IOError:
            return []


class Outcome(object):
    def __init__(self, code, result):
        self.code = code
        self.result = result

    @property
    def failed(self):
        return bool(self.result.get("failed"))


def warnings_of(result):
    """The warning texts of a module result (ansible-core 2.19 gives each as an
    object whose event holds the msg; older ones as the text)."""
    return [item["event"]["msg"] if isinstance(item, dict) else item
            for item in result.get("warnings", [])]
