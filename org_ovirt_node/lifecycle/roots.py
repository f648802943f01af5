"""Mounting a node's LVs to read or write them: layers, bases, volume trees.

A base is read-only and skipped at activation, so reading one means
activating it with --ignoreactivationskip and mounting it without journal
replay; it is deactivated again afterwards, as install leaves it. A layer's
separate volumes are found in the layer's own fstab and mounted below it in
fstab order, so /var/log appears inside /var as on the running node.
"""

import contextlib
import dataclasses
import os

from org_ovirt_node import constants
from org_ovirt_node.util import lvm
from org_ovirt_node.util.fstab import parse_fstab
from org_ovirt_node.util.mounts import mount, mounted
from org_ovirt_node.util.run import run


@contextlib.contextmanager
def mounted_layer(node, layer, write=False):
    """Mount layer LAYER (activated if needed); yield the mount point."""
    lvm.lvm("lvchange", "--activate", "y", f"{node.vg}/{layer}")
    with mounted(node.lv_path(layer), options="rw" if write else "ro") as root:
        yield root


@contextlib.contextmanager
def mounted_base(node, base):
    """Mount base BASE read-only for as long as needed; yield the mount point."""
    lvm.lvm("lvchange", "--activate", "y", "--ignoreactivationskip", f"{node.vg}/{base}")
    try:
        with mounted(node.lv_path(base), options="ro,noload") as root:
            yield root
    finally:
        lvm.lvm("lvchange", "--activate", "n", f"{node.vg}/{base}", check=False)


def volume_entries(node, root):
    """The fstab entries of ROOT (a mounted layer) that are thin volumes of NODE.

    Their device is given as /dev/<vg>/<lv> whatever spelling the fstab used.
    """
    path = os.path.join(root, "etc", "fstab")
    if not os.path.isfile(path) or os.path.islink(path):
        return []
    with open(path, encoding="utf-8", errors="replace") as handle:
        entries = parse_fstab(handle.read(1 << 20))
    names = {row["lv_name"] for row in node.lvs()
             if constants.TAG_VOLUME in row["lv_tags"].split(",")}
    prefixes = (f"/dev/{node.vg}/", f"/dev/mapper/{node.vg}-")
    found = []
    for entry in entries:
        name = next((entry.spec[len(prefix):] for prefix in prefixes
                     if entry.spec.startswith(prefix)), None)
        if name in names and entry.mountpoint.startswith("/") and entry.mountpoint != "/":
            found.append(dataclasses.replace(entry, spec=node.lv_path(name)))
    return sorted(found, key=lambda entry: entry.mountpoint.count("/"))


def top_volumes(entries):
    """Mount points of ENTRIES not nested in another of them."""
    points = [entry.mountpoint for entry in entries]
    return [point for point in points
            if not any(point.startswith(other.rstrip("/") + "/") for other in points)]


@contextlib.contextmanager
def mounted_volumes(node, root, entries, write=False):
    """Mount the volume ENTRIES below ROOT, parents first; unmount them all after."""
    done = []
    try:
        for entry in entries:
            lvm.lvm("lvchange", "--activate", "y", f"{node.vg}/{os.path.basename(entry.spec)}")
            target = os.path.join(root, entry.mountpoint.lstrip("/"))
            os.makedirs(target, exist_ok=True)       # a new volume's mount point
            mount(entry.spec, target, "rw" if write else "ro")
            done.append(target)
        yield root
    finally:
        for target in reversed(done):
            run(["umount", target], check=False)
