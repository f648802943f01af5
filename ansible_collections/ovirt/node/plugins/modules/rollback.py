#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oVirt Node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rollback
short_description: Make an earlier layer of an oVirt Node its boot default
description:
  - Runs the node's C(ovirt-node rollback). The target's LV, boot entry, kernel and
    initrd must exist; a layer marked bad is refused unless O(force).
  - First the plan (C(ovirt-node rollback --dry-run --json)); when O(to) is the boot
    default already the module reports no change. Check mode stops there.
  - The switch is one atomic grubenv write with no try counter; the layer runs after a
    reboot.
version_added: "0.1.0"
author:
  - oVirt Node contributors (!UNKNOWN)
options:
  to:
    description:
      - The layer (or base, meaning its newest layer) to boot.
      - Without it the layer before the boot default; then every run goes one layer
        further back, so give O(to) where the task must be idempotent.
    type: str
  force:
    description: Roll back even to a layer marked bad (one that failed to boot).
    type: bool
    default: false
extends_documentation_fragment:
  - ovirt.node.node
  - ansible.builtin.action_common_attributes
attributes:
  diff_mode:
    support: full
    details: The boot default before and after.
seealso:
  - module: ovirt.node.info
  - module: ovirt.node.update
"""

EXAMPLES = r"""
- name: Boot the previous layer from the next boot on
  ovirt.node.rollback:
  become: true

- name: Boot the layer the node ran before the update
  ovirt.node.rollback:
    to: "{{ previous_layer }}"
  become: true
  register: rollback

- name: Reboot into it
  ansible.builtin.reboot:
  become: true
  when: rollback is changed
"""

RETURN = r"""
from:
  description: The boot default before.
  returned: always
  type: str
  sample: ovirt-node-ng-4.5.7-0.1+1
to:
  description: The boot default after.
  returned: always
  type: str
  sample: ovirt-node-ng-4.5.6-0.1+1
entry:
  description: The boot entry (BLS id) of O(to) that is now the default.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ovirt.node.plugins.module_utils.cli import VG_OPTION, fail, run_cli


def main():
    module = AnsibleModule(
        argument_spec=dict(to=dict(type="str"), force=dict(type="bool", default=False),
                           vg=VG_OPTION),
        supports_check_mode=True)
    args = ["rollback"] + (["--to", module.params["to"]] if module.params["to"] else [])
    args += ["--force"] if module.params["force"] else []
    vg = module.params["vg"]

    planned = run_cli(module, args + ["--dry-run"], vg=vg)
    plan = planned.event("plan")
    if planned.rc != 0 or plan is None:
        fail(module, planned)
    result = {"from": plan["from"], "to": plan["to"], "entry": plan["entry"]}
    if not plan["changed"]:
        module.exit_json(changed=False, **result)
    if module._diff:
        result["diff"] = dict(before="boot default: %s\n" % plan["from"],
                              after="boot default: %s (%s)\n" % (plan["to"], plan["entry"]))
    if module.check_mode:
        module.exit_json(changed=True, **result)

    done = run_cli(module, args + ["--yes"], vg=vg)
    final = done.event("result")
    if done.rc != 0 or final is None:
        fail(module, done)
    result.update({"from": final["from"], "to": final["to"], "entry": final["entry"]})
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
