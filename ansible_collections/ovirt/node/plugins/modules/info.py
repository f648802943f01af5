#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oVirt Node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: info
short_description: The node's layout, layers and boot health as facts
description:
  - Runs C(ovirt-node status --json) on the node and returns what it printed
    as the fact C(ovirt_node), unchanged.
  - It shows the volume group and thin pool, the bases and layers with their
    flags (running, boot default, fallback, pinned, bad, last known good),
    each layer's last recorded boot verdict, and this boot's health verdict.
  - Reads only; nothing on the node changes.
version_added: "0.1.0"
author:
  - oVirt Node contributors (!UNKNOWN)
extends_documentation_fragment:
  - ovirt.node.node
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
attributes:
  diff_mode:
    support: none
  facts:
    support: full
"""

EXAMPLES = r"""
- name: Read the node's status
  ovirt.node.info:
  become: true

- name: Show the running layer and this boot's health
  ansible.builtin.debug:
    msg: "{{ ansible_facts.ovirt_node.running_layer }}: {{ ansible_facts.ovirt_node.health.status | default('not judged yet') }}"
"""

RETURN = r"""
ansible_facts:
  description: The fact C(ovirt_node), the status as C(ovirt-node status --json) prints it.
  returned: always
  type: complex
  contains:
    ovirt_node:
      description: The node's status.
      returned: always
      type: complex
      contains:
        running_layer:
          description: The layer this system booted (C(img.bootid=)), or null offline.
          type: str
          returned: always
          sample: ovirt-node-ng-4.5.6-0.1+1
        default_layer:
          description: The layer the boot default entry boots.
          type: str
          returned: always
        fallback:
          description: The layer GRUB boots when the boot default's tries run out, or null.
          type: str
          returned: always
        boot_counter:
          description: The tries left for the boot default, or null when none is armed.
          type: str
          returned: always
        last_known_good:
          description: The last layer that booted green.
          type: str
          returned: always
        bad:
          description: Layers that failed to boot.
          type: list
          elements: str
          returned: always
        pinned:
          description: Layers gc never removes.
          type: list
          elements: str
          returned: always
        health:
          description:
            - This boot's verdict (C(ovirt-node health)), or null before it is made.
            - C(status) is C(green) or C(red); C(failed) lists the failed required
              checks and scripts with their output.
          type: dict
          returned: always
        layers:
          description:
            - Every layer with its flags (C(running), C(default), C(fallback), C(pinned),
              C(bad), C(last_known_good)), kernels, boot entries, kernel arguments,
              os-release and its last recorded boot verdict (C(health)).
          type: list
          elements: dict
          returned: always
        bases:
          description: Every base (one per image), read-only and skipped at activation.
          type: list
          elements: dict
          returned: always
        vg:
          description: The volume group's name, size and free space (bytes).
          type: dict
          returned: always
        pool:
          description: The thin pool's size and data and metadata use.
          type: dict
          returned: always
        volumes:
          description: The separate volumes (/var, /var/log, ...).
          type: list
          elements: dict
          returned: always
"""

from ansible_collections.ovirt.node.plugins.module_utils.cli import fail, read_only_run


def main():
    module, run = read_only_run("status")
    status = run.document()
    if run.rc != 0 or status is None:
        fail(module, run)
    module.exit_json(changed=False, ansible_facts=dict(ovirt_node=status))


if __name__ == "__main__":
    main()
