# -*- coding: utf-8 -*-
# Copyright: oVirt Node contributors
# GNU General Public License v2.0+ (see https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)
"""The one way the modules talk to the node: `ovirt-node ... --json`.

Every module of this collection is a door onto the node's own CLI and has
no logic of its own: it runs one or two `ovirt-node` commands with --json,
hands back what they printed, and fails with the CLI's own one-line error.
The CLI prints one JSON document (status, check) or JSON lines, events
{"event": "step"|"progress"|"info"|"warning"|"plan"|"result", ...}; its
errors are one line on stderr, `ovirt-node: error: ...`, and a non-zero exit.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

ERROR_PREFIX = "ovirt-node: error: "

# The options every lifecycle module passes through as they are.
VG_OPTION = dict(type="str", required=False)


class CliRun(object):
    """One finished `ovirt-node` command: its command line, exit status,
    JSON documents (in order) and standard error."""

    def __init__(self, cmd, rc, documents, stderr):
        self.cmd = cmd
        self.rc = rc
        self.documents = documents
        self.stderr = stderr

    def event(self, name):
        """The last document whose "event" is NAME, or None."""
        found = [doc for doc in self.documents if doc.get("event") == name]
        return found[-1] if found else None

    def events(self, name):
        """Every document whose "event" is NAME."""
        return [doc for doc in self.documents if doc.get("event") == name]

    def document(self):
        """The one document a command such as status or check prints, or None."""
        return self.documents[-1] if self.documents else None

    def error(self):
        """The CLI's one-line error (without its prefix), else its last line on stderr."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        errors = [line[len(ERROR_PREFIX):] for line in lines if line.startswith(ERROR_PREFIX)]
        if errors:
            return errors[-1]
        if lines:
            return lines[-1]
        return "ovirt-node exited with status %d" % self.rc

    def warnings(self):
        """The messages of the run's warning events."""
        return [doc.get("message", "") for doc in self.events("warning")]


def run_cli(module, args, vg=None):
    """Run `ovirt-node ARGS [--vg VG] --json` and return a CliRun.

    Fails the module when the CLI is missing or prints a line that is not a
    JSON object (that is a bug in the CLI, not something to guess around).
    """
    cli = module.get_bin_path("ovirt-node", required=True)
    cmd = [cli] + list(args) + (["--vg", vg] if vg else []) + ["--json"]
    rc, out, err = module.run_command(cmd, environ_update={"LC_ALL": "C.UTF-8"})
    documents = []
    for line in out.splitlines():
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            module.fail_json(msg="ovirt-node printed a line that is not a JSON object: %s"
                             % line[:200], cmd=cmd, rc=rc, stdout=out, stderr=err)
        documents.append(document)
    return CliRun(cmd, rc, documents, err)


def fail(module, run, **extra):
    """Fail the module with RUN's own error line."""
    module.fail_json(msg=run.error(), rc=run.rc, cmd=run.cmd, stderr=run.stderr, **extra)


def read_only_run(command):
    """For a module that only reads (status, check) and takes only vg: its
    AnsibleModule (check mode supported) and the CliRun of `ovirt-node COMMAND`."""
    from ansible.module_utils.basic import AnsibleModule
    module = AnsibleModule(argument_spec=dict(vg=VG_OPTION), supports_check_mode=True)
    return module, run_cli(module, [command], vg=module.params["vg"])
