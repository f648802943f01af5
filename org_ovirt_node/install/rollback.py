"""Undo a failed install: remove what this run created, or say what is left.

The engine only writes to disks that were blank or that the user allowed to
be wiped, so "undo" means: remove the VG and PVs it created and wipe the
partition table it wrote, returning the disks to blank. The report names only
what is really there: a VG or PV the run never got to create is neither
"removed" nor "left".
"""

import os
import stat

from org_ovirt_node.util import lvm
from org_ovirt_node.util.run import run


def _is_block(path):
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def _vg_exists(vg):
    return lvm.lvm("vgs", "--noheadings", "-o", "vg_name", vg, check=False).returncode == 0


def _is_pv(path):
    return _is_block(path) and \
        lvm.lvm("pvs", "--noheadings", "-o", "pv_name", path, check=False).returncode == 0


def _has_signatures(path):
    result = run(["wipefs", "--no-act", "--noheadings", path], check=False)
    return result.returncode == 0 and bool(result.stdout.strip())


def undo_layout(plan, pv_paths, disk_paths):
    """Remove PLAN's VG, the PVs and the disks' signatures; return a report line."""
    done, left = [], []
    if _vg_exists(plan.vg):
        if lvm.remove_vg(plan.vg) and not _vg_exists(plan.vg):
            done.append(f"removed volume group {plan.vg}")
        else:
            left.append(f"volume group {plan.vg}")
    for path in pv_paths:
        if _is_pv(path):
            if not lvm.remove_pv(path) or _is_pv(path):
                left.append(f"LVM label on {path}")
    wiped = []
    for path in list(pv_paths) + list(disk_paths):
        if not _is_block(path) or not _has_signatures(path):
            continue
        if run(["wipefs", "--all", "--quiet", path], check=False).returncode != 0 \
                or _has_signatures(path):
            left.append(f"signatures on {path}")
        elif path in disk_paths:
            wiped.append(path)
    if wiped:
        done.append("wiped " + ", ".join(wiped))
    if left:
        return "cleanup incomplete; still on disk: " + ", ".join(left)
    if done:
        return "cleanup: " + "; ".join(done)
    return "cleanup: nothing had been written to " + ", ".join(disk_paths)
