"""`ovirt-node check`: named health checks, each ok, warning or failed, with a reason.

Unlike imgbased's check (which always passes), every check here looks at the
real thing and says what is wrong and how to fix it; the command exits 0
only when no check failed.
"""

import os
from dataclasses import dataclass

from org_ovirt_node import constants
from org_ovirt_node.lifecycle import bootcount, journal, preflight
from org_ovirt_node.lifecycle.roots import mounted_layer, volume_entries
from org_ovirt_node.nvr import split_layer
from org_ovirt_node.sizes import format_size
from org_ovirt_node.util import lvm
from org_ovirt_node.util.grubenv import GRUBENV_SIZE, parse_grubenv

OK, WARNING, FAILED = "ok", "warning", "failed"
_RANK = {OK: 0, WARNING: 1, FAILED: 2}


@dataclass(frozen=True)
class Result:
    """The outcome of one named check."""

    name: str
    status: str
    reason: str

    def to_dict(self):
        """JSON-ready form."""
        return {"name": self.name, "status": self.status, "reason": self.reason}


def check_tags(node):
    """imgbased finds everything by tag: VG, pool, bases, layers from tagged bases."""
    missing = []
    rows = node.lvs()
    tags = {row["lv_name"]: row["lv_tags"].split(",") for row in rows}
    if not any(constants.TAG_POOL in value for value in tags.values()):
        missing.append(f"no LV tagged {constants.TAG_POOL}")
    bases = {name for name, value in tags.items() if constants.TAG_BASE in value}
    if not bases:
        missing.append(f"no LV tagged {constants.TAG_BASE}")
    for row in rows:
        if constants.TAG_LAYER in tags[row["lv_name"]] and row["origin"] not in bases:
            missing.append(f"layer {row['lv_name']}'s origin {row['origin'] or '(none)'} is "
                           f"not tagged {constants.TAG_BASE}")
    if missing:
        return Result("tags", FAILED, "; ".join(missing) + " (imgbased cannot find them)")
    return Result("tags", OK, f"VG, pool, {len(bases)} base(s) and their layers are tagged")


def autoextend_shortfall(profile, pool_size, vg_free, extent_size=1):
    """(step, missing) in bytes when a pool with PROFILE cannot autoextend once
    from the VG's VG_FREE, else None (also when no autoextend profile is
    attached: nothing would extend it). A pool whose VG has no room for one
    step just fills up, although its profile promises it grows."""
    if profile != constants.THIN_PROFILE_NAME:
        return None
    step = preflight.autoextend_step(pool_size, extent_size)
    if vg_free >= step:
        return None
    return step, step - vg_free


def usage_status(percent):
    """OK, WARNING from constants.POOL_WARN_PERCENT or FAILED from
    constants.POOL_FAIL_PERCENT of a pool's data or metadata use."""
    if percent >= constants.POOL_FAIL_PERCENT:
        return FAILED
    if percent >= constants.POOL_WARN_PERCENT:
        return WARNING
    return OK


def _usage_problem(what, percent, status):
    """'data 85.0% used (warns from 80%)' for a WARNING or FAILED use."""
    if status == FAILED:
        return f"{what} {percent:.1f}% used (fails from {constants.POOL_FAIL_PERCENT:.0f}%)"
    return f"{what} {percent:.1f}% used (warns from {constants.POOL_WARN_PERCENT:.0f}%)"


def check_pool(node):
    """Thin pool data and metadata: a warning from 80% use, failed from 95%;
    failed without the autoextend profile or room in the VG for one step."""
    [row] = lvm.report("lvs", ["lv_name", "lv_size", "data_percent", "metadata_percent",
                               "lv_profile"], f"{node.vg}/{node.pool}")
    [vg] = lvm.report("vgs", ["vg_free", "vg_extent_size"], node.vg)
    data, meta = float(row["data_percent"] or 0), float(row["metadata_percent"] or 0)
    usage = [(what, value, usage_status(value)) for what, value in (("data", data),
                                                                     ("metadata", meta))]
    problems = [_usage_problem(what, value, status) for what, value, status in usage
                if status != OK]
    worst = max((status for _, _, status in usage), key=_RANK.get)
    if row.get("lv_profile") != constants.THIN_PROFILE_NAME:
        return Result("pool", FAILED, f"pool {node.pool} has no autoextend profile (fix: "
                      f"lvchange --metadataprofile {constants.THIN_PROFILE_NAME} "
                      f"{node.vg}/{node.pool})")
    vg_free = int(vg["vg_free"] or 0)
    reasons = []
    if problems:
        reasons.append(f"pool {node.pool}: " + ", ".join(problems) +
                       "; free space with ovirt-node gc or grow the VG")
    shortfall = autoextend_shortfall(row["lv_profile"], int(row["lv_size"] or 0), vg_free,
                                     int(vg["vg_extent_size"] or 1))
    if shortfall:
        step, missing = shortfall
        worst = FAILED
        reasons.append(f"pool {node.pool} cannot autoextend: one step needs "
                       f"{format_size(step)}, the VG has {format_size(vg_free)} free (add a "
                       f"PV or free {format_size(missing)})")
    if reasons:
        return Result("pool", worst, "; ".join(reasons))
    return Result("pool", OK, f"data {data:.1f}%, metadata {meta:.1f}%, profile "
                  f"{constants.THIN_PROFILE_NAME} attached, {format_size(vg_free)} free in "
                  "the VG for autoextend")


def check_var(node, root):
    """/var a separate thin volume mounted with discard (per the default layer's fstab)."""
    entries = {entry.mountpoint: entry for entry in volume_entries(node, root)}
    var = entries.get("/var")
    if var is None:
        return Result("var", FAILED, "/var is not a separate thin volume in the default "
                      "layer's fstab")
    if "discard" not in var.options.split(","):
        return Result("var", FAILED, f"/var ({var.spec}) is mounted without discard: freed "
                      "blocks stay allocated in the pool (fix: add discard to its fstab line)")
    return Result("var", OK, f"/var is {var.spec}, mounted with discard")


def check_entries(node):
    """Every boot entry points at an existing layer, kernel and initrd."""
    layers = node.layers()
    broken = []
    for entry in node.entries():
        if entry.layer not in layers:
            broken.append(f"{entry.entry_id} boots layer {entry.layer or '(none)'}, which "
                          "does not exist")
        elif not node.entry_files_exist(entry):
            broken.append(f"{entry.entry_id} names a missing kernel or initrd")
    if broken:
        return Result("entries", FAILED, "; ".join(broken))
    return Result("entries", OK, f"{len(node.entries())} entries, all complete")


def check_default(node):
    """The default entry (grubenv saved_entry) exists."""
    saved = node.grubenv().get("saved_entry")
    entry = node.entry(saved)
    if entry is None:
        return Result("default", FAILED, f"grubenv saved_entry {saved or '(unset)'} names no "
                      "boot entry (fix: ovirt-node rollback --to LAYER)")
    return Result("default", OK, f"{entry.entry_id} boots {entry.layer}")


def check_grubenv(node):
    """grubenv readable, exactly 1024 bytes, a plain file on /boot (GRUB can write it)."""
    path = os.path.join(node.boot, "grub2", "grubenv")
    if os.path.islink(path) or not os.path.isfile(path):
        return Result("grubenv", FAILED, f"{path} is missing or not a plain file on /boot")
    size = os.path.getsize(path)
    if size != GRUBENV_SIZE:
        return Result("grubenv", FAILED, f"/boot/grub2/grubenv is {size} bytes, not "
                      f"{GRUBENV_SIZE}: GRUB cannot save its boot counter")
    with open(path, "rb") as handle:
        data = handle.read()
    if not data.startswith(b"# GRUB Environment Block\n"):
        return Result("grubenv", FAILED, "/boot/grub2/grubenv has no GRUB header")
    parse_grubenv(data)
    return Result("grubenv", OK, "on /boot, 1024 bytes")


def check_boot_space(node):
    """/boot has room for one more kernel set, as large as the largest there now."""
    largest = 0
    for layer in node.layers():
        directory = os.path.join(node.boot, layer)
        if os.path.isdir(directory):
            largest = max(largest, sum(os.path.getsize(os.path.join(directory, name))
                                       for name in os.listdir(directory)))
    stat = os.statvfs(node.boot)
    free = stat.f_bavail * stat.f_frsize
    need = largest + preflight.BOOT_SLACK
    if free < need:
        return Result("boot-space", FAILED, f"/boot has {format_size(free)} free; one more "
                      f"kernel set needs {format_size(need)} (fix: ovirt-node gc)")
    return Result("boot-space", OK, f"{format_size(free)} free, one more kernel set needs "
                  f"{format_size(need)}")


def check_orphans(node):
    """Nothing left by an interrupted run: journal leftovers, layers without entries, stray dirs."""
    found = []
    unfinished = journal.read(node)
    if unfinished:
        left = journal.leftovers(node, unfinished)
        if left:
            found.append(f"an interrupted update of {unfinished.get('nvr')} left "
                         f"{', '.join(left)} (fix: run the update again, or ovirt-node gc)")
    layers = node.layers()
    with_entries = {entry.layer for entry in node.entries()}
    journaled = set(unfinished.get("lvs", [])) if unfinished else set()
    for layer in sorted(set(layers) - with_entries - journaled):
        found.append(f"layer {layer} has no boot entry (fix: lvremove {node.vg}/{layer}, "
                     "or ovirt-node gc)")
    bases = set(node.bases())
    for base in sorted(bases - set(layers.values()) - journaled):
        found.append(f"base {base} has no layer (fix: ovirt-node gc)")
    for name in sorted(os.listdir(node.boot)):
        if split_layer(name) and os.path.isdir(os.path.join(node.boot, name)) and \
                name not in layers and name not in with_entries:
            found.append(f"/boot/{name} belongs to no layer (fix: rm -r /boot/{name})")
    if found:
        return Result("orphans", FAILED, "; ".join(found))
    return Result("orphans", OK, "no leftovers of interrupted runs")


def check_last_boot(node):
    """The new layer booted, or the node fell back from it (which marks it bad)."""
    failed = bootcount.failed_default(node)
    bad = node.state().bad
    if failed:
        fallback = node.entry(node.grubenv().get(bootcount.FALLBACK))
        return Result("last-boot", FAILED, f"{failed} used up its boot tries; GRUB boots "
                      f"{fallback.layer if fallback else 'the fallback'} instead (boot-ok "
                      "there marks it bad)")
    if bad:
        return Result("last-boot", WARNING, f"{', '.join(bad)} failed to boot and is marked "
                      "bad; the node runs its fallback")
    return Result("last-boot", OK, "no failed boot recorded")


def run_checks(node):
    """Every check on NODE, in a fixed order."""
    results = [check_tags(node), check_pool(node)]
    default = node.default_layer()
    if default in node.layers():
        with mounted_layer(node, default) as root:
            results.append(check_var(node, root))
    else:
        results.append(Result("var", FAILED, "no default layer to read fstab from"))
    results += [check_entries(node), check_default(node), check_grubenv(node),
                check_boot_space(node), check_orphans(node), check_last_boot(node)]
    return results
