#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oVirt Node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: update
short_description: Update an oVirt Node to a newer image, as a new layer
description:
  - Runs the node's C(ovirt-node update), from a node image on the node (O(image)) or
    from the image-update package in a repository (O(package) and O(repo)).
  - With a package the CLI downloads it with the node's own apt-get or dnf, runs the
    update's preflight on the image it carries, then installs it, and the package's
    script runs the update.
  - The update's preflight runs first and writes nothing. When the node's boot
    default is already a layer of that image the module reports no change
    (C(--unchanged-exit-77)). When the preflight refuses, the module fails with
    every problem it names and the node is untouched.
  - In check mode only the preflight runs (C(--dry-run)); the result says whether the
    update would change the node, and with C(--diff) what it creates and switches.
  - The new layer becomes the boot default with a try counter and the current layer as
    its fallback; it runs after a reboot (M(ansible.builtin.reboot), or the role
    C(ovirt.node.rolling_update)).
version_added: "0.1.0"
author:
  - oVirt Node contributors (!UNKNOWN)
options:
  image:
    description:
      - Path on the node of the node image (squashfs) to deploy, with its C(.sha256)
        (and C(.sig)) beside it.
    type: path
  package:
    description:
      - Name of the image-update package to install from O(repo), as
        C(ovirt-node image package) makes it.
    type: str
  repo:
    description:
      - The repository of O(package), as C(ovirt-node image package --repo) writes it
        (C(file:///DIR), C(http://) or C(https://)); a flat apt repository on a Debian
        node, an rpm-md one for dnf.
    type: str
  allow_other_os:
    description: Allow an image of another OS ID or major version (O(image) only).
    type: bool
    default: false
  allow_downgrade:
    description: Allow an image not newer than every base (O(image) only).
    type: bool
    default: false
  force:
    description: Deploy again an image whose layer failed to boot (O(image) only).
    type: bool
    default: false
  keep:
    description: Images to keep after the update; default as recorded at install (O(image) only).
    type: int
  tries:
    description: Boot attempts of the new layer before GRUB falls back (the CLI's default is 3; O(image) only).
    type: int
  skip_persisted:
    description: Packages whose local change is not carried into the new layer (O(image) only).
    type: list
    elements: str
    default: []
  persist:
    description: Carry the node's locally added or removed packages into the new layer (O(image) only).
    type: bool
    default: true
extends_documentation_fragment:
  - ovirt.node.node
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Runs the preflight only (C(ovirt-node update --dry-run)).
  diff_mode:
    support: full
    details: The boot default before and after, the LVs created, the /etc merge and /var additions, the images gc removes.
seealso:
  - module: ovirt.node.info
  - module: ovirt.node.rollback
"""

EXAMPLES = r"""
- name: Update to an image copied onto the node
  ovirt.node.update:
    image: /var/tmp/ovirt-node-ng-4.5.7-0.1.squashfs
  become: true
  register: update

- name: Update from the image-update package in a repository
  ovirt.node.update:
    package: ovirt-node-ng-image-update
    repo: http://repo.example.com/node/
  become: true

- name: Show what an update would do, without doing it
  ovirt.node.update:
    package: ovirt-node-ng-image-update
    repo: file:///srv/node-repo
  check_mode: true
  diff: true
  become: true

- name: Reboot into the new layer
  ansible.builtin.reboot:
  become: true
  when: update is changed
"""

RETURN = r"""
plan:
  description:
    - The preflight's plan, the first document C(ovirt-node update --json) prints.
  returned: always
  type: complex
  contains:
    nvr:
      description: The image's NVR, the new base.
      type: str
      sample: ovirt-node-ng-4.5.7-0.1
    layer:
      description: The new layer.
      type: str
      sample: ovirt-node-ng-4.5.7-0.1+1
    from_layer:
      description: The current boot default, the new layer's fallback.
      type: str
    create_lvs:
      description: The LVs the update creates.
      type: list
      elements: str
    boot_entry:
      description: The new boot entries (C(ids)), their C(options) and the C(fallback) entry.
      type: dict
    etc:
      description: The /etc merge, one item per path (C(path), C(action), C(reason)).
      type: list
      elements: dict
    etc_conflicts:
      description: Paths changed on the node and in the image (the image's goes beside as C(.imgnew)).
      type: list
      elements: str
    var:
      description: What the image adds to /var and the other volumes, per mount point.
      type: dict
    gc_removes:
      description: The bases gc removes after the update.
      type: list
      elements: str
    problems:
      description: Why the preflight refuses (empty when it does not).
      type: list
      elements: str
    up_to_date:
      description: The boot default is already a layer of this image (nothing to do).
      type: bool
package:
  description:
    - With O(package), the package the CLI downloaded (C(name), C(version), C(format),
      C(repo), C(files), C(image)); null with O(image).
  returned: always
  type: dict
result:
  description:
    - What the update did (the CLI's final C(result) event), empty in check mode and
      when nothing changed.
  returned: always
  type: complex
  contains:
    layer:
      description: The new layer, now the boot default.
      type: str
    default_entry:
      description: The boot default entry (BLS id).
      type: str
    fallback_entry:
      description: The entry GRUB boots when the new layer's tries run out.
      type: str
    etc_conflicts:
      description: /etc paths kept local with the image's beside as C(.imgnew).
      type: list
      elements: str
steps:
  description: The names of the update's steps, in the order they ran.
  returned: when the update ran
  type: list
  elements: str
  sample: [preflight, base, layer, etc, var, packages, boot, switch, gc]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ovirt.node.plugins.module_utils.cli import VG_OPTION, fail, run_cli

# option -> CLI flag, for the options passed through as they are
FLAGS = (("allow_other_os", "--allow-other-os"), ("allow_downgrade", "--allow-downgrade"),
         ("force", "--force"))
VALUES = (("keep", "--keep"), ("tries", "--tries"))
UNCHANGED = 77      # --unchanged-exit-77: the boot default is a layer of the image already


def cli_args(params):
    """The `ovirt-node update` arguments the module's parameters spell."""
    if params["image"]:
        args = ["update", "--image", params["image"]]
    else:
        args = ["update", "--package", params["package"], "--repo", params["repo"]]
    args += [flag for key, flag in FLAGS if params[key]]
    for key, flag in VALUES:
        if params[key] is not None:
            args += [flag, str(params[key])]
    for name in params["skip_persisted"]:
        args += ["--skip-persisted", name]
    if not params["persist"]:
        args.append("--no-persist")
    return args


def diff_of(plan):
    """The plan as before/after text: the boot default, what is created and what goes."""
    entry = plan["boot_entry"]
    before = ["boot default: %s" % plan["from_layer"]]
    before += ["image %s" % base for base in plan["gc_removes"]]
    after = ["boot default: %s (%s), fallback %s"
             % (plan["layer"], ", ".join(entry["ids"]), entry["fallback"])]
    after += ["new LV %s" % name for name in plan["create_lvs"]]
    after += ["/etc/%s: %s" % (item["path"], item["action"]) for item in plan["etc"]]
    for point, paths in sorted(plan["var"].items()):
        after += ["%s/%s: added" % (point.rstrip("/"), path) for path in paths]
    return dict(before_header="boot configuration", after_header="after the update",
                before="\n".join(before) + "\n", after="\n".join(after) + "\n")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            image=dict(type="path"), package=dict(type="str"), repo=dict(type="str"),
            allow_other_os=dict(type="bool", default=False),
            allow_downgrade=dict(type="bool", default=False),
            force=dict(type="bool", default=False), keep=dict(type="int"),
            tries=dict(type="int"),
            skip_persisted=dict(type="list", elements="str", default=[]),
            persist=dict(type="bool", default=True), vg=VG_OPTION),
        mutually_exclusive=[("image", "package")],
        required_one_of=[("image", "package")],
        required_together=[("package", "repo")],
        supports_check_mode=True)
    args = cli_args(module.params)
    # check mode: the preflight only; otherwise one run, whose first document is
    # its plan. Either way exit 77 means the boot default is the image's already.
    if module.check_mode:
        run = run_cli(module, args + ["--dry-run", "--unchanged-exit-77"], vg=module.params["vg"])
    else:
        run = run_cli(module, args + ["--unchanged-exit-77", "--yes"], vg=module.params["vg"])
    event = run.event("plan") or {}
    plan = event.get("plan")
    result = dict(plan=plan or {}, package=event.get("package"), result={})
    if run.rc == UNCHANGED and plan:
        module.exit_json(changed=False, msg="%s (of %s) is the boot default already"
                         % (plan["from_layer"], plan["nvr"]), **result)
    if plan is None:
        fail(module, run, **result)
    if plan["problems"]:
        module.fail_json(msg="update refused, nothing was written: " + "; ".join(plan["problems"]),
                         rc=run.rc, cmd=run.cmd, **result)
    for message in run.warnings():
        module.warn(message)
    if module._diff:
        result["diff"] = diff_of(plan)
    if module.check_mode:
        module.exit_json(changed=True, **result)
    result["steps"] = [doc.get("step") for doc in run.events("step")]
    final = run.event("result")
    if run.rc != 0 or final is None:
        fail(module, run, **result)
    final = dict(final)
    final.pop("event", None)
    result["result"] = final
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
