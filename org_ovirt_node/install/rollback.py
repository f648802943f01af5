"""Undo a failed install: remove what this run created, or say what is left.

The engine only writes to disks that were blank or that the user allowed to
be wiped, so "undo" means: remove the VG and PVs it created and wipe the
partition table it wrote, returning the disks to blank.
"""

from org_ovirt_node.util import lvm
from org_ovirt_node.util.run import run


def undo_layout(plan, pv_paths, disk_paths):
    """Remove PLAN's VG, the PVs and the disks' signatures; return a report line."""
    left = []
    if not lvm.remove_vg(plan.vg):
        left.append(f"volume group {plan.vg}")
    for path in pv_paths:
        if not lvm.remove_pv(path):
            left.append(f"LVM label on {path}")
    for path in pv_paths + list(disk_paths):
        if run(["wipefs", "--all", "--quiet", path], check=False).returncode != 0:
            left.append(f"signatures on {path}")
    if left:
        return "cleanup incomplete; still on disk: " + ", ".join(left)
    return "cleanup: removed the volume group and wiped " + ", ".join(disk_paths)
