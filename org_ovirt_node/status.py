"""What is installed, read back from LVM tags and the boot configuration.

Nothing here relies on fixed names: the VG, pool, bases, layers and volumes
are found by their imgbased tags, as imgbased's own tools do.
"""

import json
import os

from org_ovirt_node import constants
from org_ovirt_node.errors import NodeError
from org_ovirt_node.nvr import split_layer
from org_ovirt_node.util import lvm
from org_ovirt_node.util.grubenv import parse_grubenv
from org_ovirt_node.util.mounts import mounted
from org_ovirt_node.util.run import run

_LV_FIELDS = ["lv_name", "vg_name", "lv_size", "lv_tags", "origin", "pool_lv",
              "data_percent", "metadata_percent", "lv_metadata_size", "lv_permissions",
              "lv_skip_activation", "lv_active", "lv_path"]


def _tags(row, key):
    return [tag for tag in row.get(key, "").split(",") if tag]


def _percent(value):
    return float(value) if value not in ("", None) else None


def running_layer(cmdline_path="/proc/cmdline"):
    """The layer this system booted from (img.bootid=), or None."""
    try:
        with open(cmdline_path, encoding="utf-8") as handle:
            args = handle.read().split()
    except OSError:
        return None
    for arg in args:
        if arg.startswith("img.bootid="):
            return arg.split("=", 1)[1]
    return None


def _grubenv_from(boot_dir):
    path = os.path.join(boot_dir, "grub2", "grubenv")
    if os.path.exists(path):
        with open(path, "rb") as handle:
            return parse_grubenv(handle.read())
    return None


def default_entry(vg):
    """grub's saved_entry, from /boot or from the /boot partition beside VG's PVs."""
    values = _grubenv_from("/boot")
    if values is not None:
        return values.get("saved_entry")
    for disk in lvm.vg_disks(vg):
        listing = json.loads(run(["lsblk", "--json", "--list", "-o",
                                  "PATH,FSTYPE,TYPE,PKNAME", f"/dev/{disk}"]).stdout)
        for node in listing["blockdevices"]:
            if node.get("type") != "part" or node.get("fstype") != "ext4":
                continue
            with mounted(node["path"], options="ro,noload") as boot:
                values = _grubenv_from(boot)
            if values is not None:
                return values.get("saved_entry")
    return None


def read_status(vg=None):
    """The node layout as a dict: vg, pool, bases, layers, volumes."""
    vgs = lvm.report("vgs", ["vg_name", "vg_size", "vg_free", "vg_tags"], f"@{constants.TAG_VG}")
    if vg:
        vgs = [row for row in vgs if row["vg_name"] == vg]
    if not vgs:
        raise NodeError("no oVirt Node layout found (no volume group tagged "
                        f"{constants.TAG_VG}{' named ' + vg if vg else ''})")
    vg_row = vgs[0]
    name = vg_row["vg_name"]
    rows = lvm.report("lvs", _LV_FIELDS, name)
    default = default_entry(name)
    running = running_layer()
    status = {"vg": {"name": name, "size": int(vg_row["vg_size"]),
                     "free": int(vg_row["vg_free"])},
              "pool": None, "bases": [], "layers": [], "volumes": [],
              "default_entry": default, "running_layer": running}
    for row in rows:
        tags = _tags(row, "lv_tags")
        if constants.TAG_POOL in tags:
            status["pool"] = {"name": row["lv_name"], "size": int(row["lv_size"]),
                              "metadata_size": int(row["lv_metadata_size"] or 0),
                              "data_percent": _percent(row["data_percent"]),
                              "metadata_percent": _percent(row["metadata_percent"])}
        elif constants.TAG_BASE in tags:
            status["bases"].append({"name": row["lv_name"], "size": int(row["lv_size"]),
                                    "read_only": row["lv_permissions"] == "read-only",
                                    "activation_skip": row["lv_skip_activation"] == "skip activation",
                                    "data_percent": _percent(row["data_percent"])})
        elif constants.TAG_LAYER in tags:
            is_default = bool(default) and default.startswith(row["lv_name"] + "-")
            status["layers"].append({"name": row["lv_name"], "origin": row["origin"],
                                     "size": int(row["lv_size"]),
                                     "data_percent": _percent(row["data_percent"]),
                                     "default": is_default,
                                     "running": row["lv_name"] == running})
        elif constants.TAG_VOLUME in tags:
            status["volumes"].append({"name": row["lv_name"], "size": int(row["lv_size"]),
                                      "data_percent": _percent(row["data_percent"]),
                                      "path": row["lv_path"]})
    status["layers"].sort(key=lambda layer: split_layer(layer["name"]) or (layer["name"], 0))
    return status
