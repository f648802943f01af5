"""imgbased's bookkeeping on the new layout: tags, pool profile, base, layer.

A base is the image's read-only thin LV; the booted root is always a writable
thin snapshot of it, `<nvr>+1`. Tags let `lvs @imgbased:base` and the status
command find every part without knowing names.
"""

import os

from org_ovirt_node import constants
from org_ovirt_node.util import lvm


def blivet_lv_name(name):
    """The name blivet will accept for an LV: it drops characters such as '+'.

    The real name is restored with lvrename after blivet created the LV.
    """
    return "".join(ch for ch in name if ch.isalnum() or ch in "._-")


def lv_path(vg, name):
    """The /dev path of LV NAME in VG."""
    return f"/dev/{vg}/{name}"


def profile_text():
    """The LVM profile that lets the thin pool grow before it fills."""
    settings = "\n".join(f"\t{key} = {value}" for key, value in constants.THIN_PROFILE.items())
    return f"activation {{\n{settings}\n}}\n"


def write_profile(etc_dir):
    """Write the pool's LVM profile below ETC_DIR (/etc of some system)."""
    directory = os.path.join(etc_dir, "lvm", "profile")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, f"{constants.THIN_PROFILE_NAME}.profile"), "w",
              encoding="ascii") as handle:
        handle.write(profile_text())


def tag_layout(plan):
    """Tag the VG, pool and volumes and give the base its exact NVR name."""
    if blivet_lv_name(plan.nvr) != plan.nvr:
        lvm.rename_lv(plan.vg, blivet_lv_name(plan.nvr), plan.nvr)
    lvm.add_tag("vg", plan.vg, constants.TAG_VG)
    lvm.add_tag("lv", f"{plan.vg}/{plan.pool}", constants.TAG_POOL)
    lvm.add_tag("lv", f"{plan.vg}/{plan.nvr}", constants.TAG_BASE)
    for device in plan.devices:
        if device.role == "volume":
            lvm.add_tag("lv", f"{plan.vg}/{device.name}", constants.TAG_VOLUME)
    write_profile("/etc")
    lvm.set_metadata_profile(plan.vg, plan.pool, constants.THIN_PROFILE_NAME)


def pool_chunk_size(vg, pool):
    """The thin pool's chunk size in bytes."""
    rows = lvm.report("lvs", ["chunk_size"], f"{vg}/{pool}")
    return int(rows[0]["chunk_size"]) if rows else 0


def create_layer(plan):
    """Snapshot the base as the first layer; return the layer's device path."""
    lvm.thin_snapshot(plan.vg, plan.nvr, plan.layer, tags=[constants.TAG_LAYER])
    return lv_path(plan.vg, plan.layer)


def freeze_base(plan):
    """Make the base read-only, inactive and skipped at activation."""
    lvm.freeze_base(plan.vg, plan.nvr)
