#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oVirt Node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: check
short_description: Run an oVirt Node's named health checks
description:
  - Runs the node's C(ovirt-node check --json) (tags, pool, var, entries, default,
    grubenv, boot-space, orphans, last-boot), each C(ok), C(warning) or C(failed) with a
    reason and a fix.
  - Fails when the CLI says a check failed (its exit status 1), naming each failed check
    with its reason; a warning is returned and shown as a warning, and does not fail.
  - Reads only; nothing on the node changes.
version_added: "0.1.0"
author:
  - oVirt Node contributors (!UNKNOWN)
extends_documentation_fragment:
  - ovirt.node.node
  - ansible.builtin.action_common_attributes
attributes:
  diff_mode:
    support: none
seealso:
  - module: ovirt.node.info
"""

EXAMPLES = r"""
- name: Check the node
  ovirt.node.check:
  become: true
  register: node_check

- name: Show the checks that warn
  ansible.builtin.debug:
    var: node_check.warning_checks
"""

RETURN = r"""
checks:
  description: Every check as the CLI prints it (C(name), C(status), C(reason)).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "pool", "status": "ok", "reason": "data 12.0% and metadata 1.0% used"}]
failed_checks:
  description: The names of the failed checks.
  returned: always
  type: list
  elements: str
warning_checks:
  description: The names of the checks that warn.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.ovirt.node.plugins.module_utils.cli import fail, read_only_run


def main():
    module, run = read_only_run("check")
    document = run.document()
    if run.rc not in (0, 1) or document is None or "checks" not in document:
        fail(module, run)
    checks = document["checks"]
    failed = [item for item in checks if item["status"] == "failed"]
    warning = [item for item in checks if item["status"] == "warning"]
    for item in warning:
        module.warn("%s: %s" % (item["name"], item["reason"]))
    result = dict(checks=checks, failed_checks=[item["name"] for item in failed],
                  warning_checks=[item["name"] for item in warning])
    if run.rc != 0:
        module.fail_json(msg="; ".join("%s: %s" % (item["name"], item["reason"])
                                       for item in failed) or run.error(), rc=run.rc, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
