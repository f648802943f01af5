"""What is installed, read back from LVM tags and the boot configuration.

Nothing here relies on fixed names: the VG, pool, bases, layers and volumes
are found by their imgbased tags, as imgbased's own tools do. The boot side
(default, fallback, last-known-good, pinned, bad, each layer's kernels and
entries) comes from /boot through lifecycle/node.py, online or offline.
Each layer's kernel arguments are its image's (recorded in the node state)
and the local changes its boot entry shows against them (lifecycle/kargs.py).
Each layer's os-release is the one its image had when deployed (kept in the
node state), or for the running layer read from /, so status mounts nothing.
The health verdicts come from lifecycle/health.py's files: this boot's from
/run, each layer's last one from /boot. Who signed each base's image (and
so its layers') is what install or update verified, kept in the node state.
"""

from org_ovirt_node import constants
from org_ovirt_node.image import rootfacts
from org_ovirt_node.lifecycle import bootcount, health, kargs
from org_ovirt_node.lifecycle.state import OS_RELEASE_KEYS
from org_ovirt_node.lifecycle.node import open_node, volume_mount_point
from org_ovirt_node.lifecycle.preflight import autoextend_step
from org_ovirt_node.nvr import split_layer
from org_ovirt_node.util import lvm

_LV_FIELDS = ["lv_name", "vg_name", "lv_size", "lv_tags", "origin", "pool_lv",
              "data_percent", "metadata_percent", "lv_metadata_size", "lv_permissions",
              "lv_skip_activation", "lv_active", "lv_path"]


def _tags(row, key):
    return [tag for tag in row.get(key, "").split(",") if tag]


def _percent(value):
    return float(value) if value not in ("", None) else None


def read_status(vg=None):
    """The node layout as a dict: vg, pool, bases, layers, volumes, boot state."""
    with open_node(vg) as node:
        return node_status(node)


def _boot_state(node):
    """Default, fallback and failed layers plus the node state, from /boot."""
    env = node.grubenv()
    state = node.state()
    fallback = node.entry(env.get(bootcount.FALLBACK)) if bootcount.is_armed(env) else None
    failed = bootcount.failed_default(node, env)
    bad = list(state.bad) + ([failed] if failed and failed not in state.bad else [])
    return {"default_entry": env.get("saved_entry"), "default_layer": node.default_layer(),
            "fallback": fallback.layer if fallback else None,
            "boot_counter": env.get(bootcount.COUNTER) if fallback else None,
            "last_known_good": state.last_known_good, "pinned": list(state.pinned),
            "bad": bad, "keep": state.keep}


def _os_release(node, images, layer, base):
    """What LAYER's image says of its OS, or None when nothing recorded it."""
    if base in images:
        return images[base]
    if layer == node.running:
        facts = rootfacts.os_release("/")
        return {key: facts[key] for key in OS_RELEASE_KEYS if key in facts} or None
    return None


def _signature(signatures, base):
    """signed_by and signature_policy of BASE's image as checked when it was
    deployed; both None when nothing was recorded (an older state file)."""
    recorded = signatures.get(base) or {}
    return {"signed_by": recorded.get("signed_by"), "signature_policy": recorded.get("policy")}


def _health(node, root="/"):
    """(this boot's verdict or None, {layer: summary of its last recorded verdict})."""
    running = health.read_running_verdict(root) if node.running else None
    if running is not None and running.get("layer") != node.running:
        running = None
    recorded = health.read_verdicts(health.verdicts_path(node.boot))
    return running, {layer: {"status": verdict.get("status"), "time": verdict.get("time"),
                             "failed": [item["name"] for item in _failures(verdict)],
                             "failures": _failures(verdict)}
                     for layer, verdict in recorded.items()}


OUTPUT_LIMIT = 2000
"""Characters of a failed check's output that status carries (its tail)."""


def _failures(verdict):
    """[{"name", "output"}] of what a recorded verdict lists as failed.

    What is not such an item is skipped; the output is the end of what the
    check printed, which is where its reason usually is.
    """
    failed = verdict.get("failed")
    if not isinstance(failed, list):
        return []
    return [{"name": item.get("name"),
             "output": str(item.get("output") or "")[-OUTPUT_LIMIT:]}
            for item in failed if isinstance(item, dict)]


def node_status(node):
    """read_status() of an opened Node."""
    [vg_row] = lvm.report("vgs", ["vg_name", "vg_size", "vg_free", "vg_extent_size"], node.vg)
    boot = _boot_state(node)
    entries = node.entries()
    images = node.state().images
    image_kargs = node.state().image_kargs
    signatures = node.state().signatures
    persisted = node.state().persisted
    status = {"vg": {"name": node.vg, "size": int(vg_row["vg_size"]),
                     "free": int(vg_row["vg_free"])},
              "pool": None, "bases": [], "layers": [], "volumes": [],
              "running_layer": node.running, **boot}
    status["health"], verdicts = _health(node)
    for row in lvm.report("lvs", _LV_FIELDS, node.vg):
        tags = _tags(row, "lv_tags")
        if constants.TAG_POOL in tags:
            status["pool"] = {"name": row["lv_name"], "size": int(row["lv_size"]),
                              "metadata_size": int(row["lv_metadata_size"] or 0),
                              # What one autoextend takes from the VG's free space.
                              "autoextend_step": autoextend_step(
                                  int(row["lv_size"]), int(vg_row["vg_extent_size"] or 1)),
                              "data_percent": _percent(row["data_percent"]),
                              "metadata_percent": _percent(row["metadata_percent"]),
                              # Where `check` warns and fails on either use.
                              "warn_percent": constants.POOL_WARN_PERCENT,
                              "fail_percent": constants.POOL_FAIL_PERCENT}
        elif constants.TAG_BASE in tags:
            status["bases"].append({"name": row["lv_name"], "size": int(row["lv_size"]),
                                    "read_only": row["lv_permissions"] == "read-only",
                                    "activation_skip": row["lv_skip_activation"] == "skip activation",
                                    "data_percent": _percent(row["data_percent"]),
                                    **_signature(signatures, row["lv_name"])})
        elif constants.TAG_LAYER in tags:
            name = row["lv_name"]
            mine = [entry for entry in entries if entry.layer == name]
            status["layers"].append({
                "name": name, "origin": row["origin"], "size": int(row["lv_size"]),
                "data_percent": _percent(row["data_percent"]),
                "default": name == boot["default_layer"], "running": name == node.running,
                "fallback": name == boot["fallback"], "pinned": name in boot["pinned"],
                "bad": name in boot["bad"], "last_known_good": name == boot["last_known_good"],
                "os_release": _os_release(node, images, name, row["origin"]),
                "kernels": [entry.version for entry in mine],
                "entries": [entry.entry_id for entry in mine],
                "kargs": kargs.summary(mine[0].options if mine else "", image_kargs.get(name)),
                "health": verdicts.get(name),
                # the package changes an update carried into it (lifecycle/persist.py)
                "persisted": persisted.get(name, []),
                **_signature(signatures, row["origin"])})
        elif constants.TAG_VOLUME in tags:
            status["volumes"].append({"name": row["lv_name"],
                                      "mount_point": volume_mount_point(row["lv_name"]),
                                      "size": int(row["lv_size"]),
                                      "data_percent": _percent(row["data_percent"]),
                                      "path": row["lv_path"]})
    status["layers"].sort(key=lambda layer: split_layer(layer["name"]) or (layer["name"], 0))
    return status
