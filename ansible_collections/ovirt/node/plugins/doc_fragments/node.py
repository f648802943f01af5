# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oVirt Node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """What every module of ovirt.node shares: the vg option and the CLI it runs."""

    DOCUMENTATION = r"""
options:
  vg:
    description:
      - Act offline on the node whose volume group this is, from another Linux
        host with device-mapper (the CLI's C(--vg)).
      - Without it the CLI acts on the booted node (or the one volume group
        tagged C(imgbased:vg)).
    type: str
    required: false
notes:
  - Runs the node's own C(ovirt-node) CLI with C(--json) and hands back what it
    printed; it needs root (C(become)) and C(ovirt-node) on the node's PATH.
  - Errors are the CLI's own one-line error, in C(msg), with its exit status in C(rc).
requirements:
  - ovirt-node (the node's CLI, from the node image)
attributes:
  check_mode:
    support: full
  platform:
    platforms: posix
"""
