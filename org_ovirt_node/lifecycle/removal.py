"""Removing layers and bases, boot side first.

Entries go before the kernels they name and kernels before the LVs, so a
crash part-way never leaves a boot entry that points at something missing:
at worst an LV without an entry, which `check` names and `gc` removes.
"""

import os
import shutil

from org_ovirt_node.util import grubcfg, lvm
from org_ovirt_node.util.atomic import remove_durably


def remove_boot_files(node, layer):
    """Remove LAYER's BLS entries, then its kernel directory; return what went."""
    removed = []
    for entry in node.entries_of(layer):
        if remove_durably(os.path.join(node.boot, "loader", "entries", entry.entry_id + ".conf")):
            removed.append(f"boot entry {entry.entry_id}")
    grubcfg.refresh(node.boot)
    kernel_dir = os.path.join(node.boot, layer)
    if os.path.isdir(kernel_dir) and not os.path.islink(kernel_dir):
        shutil.rmtree(kernel_dir)
        removed.append(f"/boot/{layer}")
    return removed


def remove_lv(node, name):
    """Remove LV NAME of the node's VG if it exists; return what went."""
    if not any(row["lv_name"] == name for row in node.lvs()):
        return []
    lvm.lvm("lvremove", "--force", "--yes", f"{node.vg}/{name}")
    return [f"LV {node.vg}/{name}"]


def remove_base(node, base, layers):
    """Remove BASE with its LAYERS: entries, kernels, layer LVs, then the base LV."""
    removed = []
    for layer in layers:
        removed += remove_boot_files(node, layer)
    for layer in layers:
        removed += remove_lv(node, layer)
    return removed + remove_lv(node, base)
