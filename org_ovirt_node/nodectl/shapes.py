"""Our engine's answers in the shapes oVirt's nodectl prints (pure functions, no I/O).

cockpit-ovirt's node dashboard (dashboard/src/helpers/Dashboard.js) reads
`nodectl --machine-readable info|check|rollback`, and admins' scripts grep the
human `check` text, so these shapes follow oVirt's nodectl and imgbased
(src/nodectl/, imgbased/plugins/core.py Health) key for key.

How our named checks (lifecycle/check.py) fill nodectl's check leaves:

    group          leaf                                   from our check
    -------------  -------------------------------------  ---------------------------------
    bootloader     layer_boot_entries                     entries
                   valid_boot_entries                     default, grubenv
    mount_points   separate_var                           var (its parts not about discard)
                   discard_is_used                        var (its parts about discard)
    basic_storage  initialized_vg                         node (the node could be opened)
                   initialized_thin_pool                  tags (its parts about the pool)
                   initialized_lvs                        tags (its other parts)
    thin_storage   checking_available_space_in_thinpool   pool (its parts not about autoextend)
                   checking_thinpool_auto-extend          pool (its parts about autoextend)
    ovirt_node     boot_space                             boot-space
                   orphans                                orphans
                   last_boot                              last-boot
                   health                                 this boot's health verdict (/run)
    vdsmd          (status only)                          systemd's vdsmd.service

A check's reason is split at "; " into parts; a leaf fed by "its parts
about X" takes the parts that name X. A leaf is "ok", "failed - REASON",
"warn - REASON" (our checks warn, imgbased's never do: cockpit-ovirt shows
every value but "ok" with its warning icon) or "error" (its check did not
run). A group is "ok", or "failed - WHY" / "warn - WHY" by its worst leaf.
The top status is "bad" when a leaf failed or erred, "warn" when one warns
or vdsmd is bad, else "ok", as nodectl computes it.
"""

import json

from org_ovirt_node.lifecycle.health import last_line
from org_ovirt_node.lifecycle.node import find_entry

OK, WARN, FAILED, ERROR = "ok", "warn", "failed", "error"
_OURS = {"ok": OK, "warning": WARN, "failed": FAILED}

# (key, human label, why the group is not ok, [(key, human label, check, part filter)]).
# A part filter (word, keep) takes the reason parts that do (keep) or do not name word.
GROUPS = (
    ("bootloader", "Bootloader", "It looks like there are no valid bootloader entries. "
     "Please ensure this is fixed before rebooting.", (
         ("layer_boot_entries", "Layer boot entries", ("entries",), None),
         ("valid_boot_entries", "Valid boot entries", ("default", "grubenv"), None))),
    ("mount_points", "Mount points", "This can happen if the installation was performed "
     "incorrectly", (
         ("separate_var", "Separate /var", ("var",), ("discard", False)),
         ("discard_is_used", "Discard is used", ("var",), ("discard", True)))),
    ("basic_storage", "Basic storage", "It looks like the LVM layout is not correct. The "
     "reason could be an incorrect installation.", (
         ("initialized_vg", "Initialized VG", ("node",), None),
         ("initialized_thin_pool", "Initialized Thin Pool", ("tags",), ("pool", True)),
         ("initialized_lvs", "Initialized LVs", ("tags",), ("pool", False)))),
    ("thin_storage", "Thin storage", "It looks like the LVM layout is not correct. The "
     "reason could be an incorrect installation.", (
         ("checking_available_space_in_thinpool", "Checking available space in thinpool",
          ("pool",), ("autoextend", False)),
         ("checking_thinpool_auto-extend", "Checking thinpool auto-extend", ("pool",),
          ("autoextend", True)))),
    ("ovirt_node", "oVirt Node", "The node's own checks found something: see `ovirt-node "
     "check` and `ovirt-node health`", (
         ("boot_space", "Boot space", ("boot-space",), None),
         ("orphans", "Orphans", ("orphans",), None),
         ("last_boot", "Last boot", ("last-boot",), None),
         ("health", "Health", ("health",), None))),
)
ADDITIONAL_INFO = "Please check the status manually using `nodectl check`"
_RANK = {OK: 0, WARN: 1, FAILED: 2, ERROR: 2}


# --- info
def info_shape(entries, menu_order, default_key, layers, running):
    """`nodectl info`'s JSON: the node's boot entries, bases with their layers, the running one.

    ENTRIES are lifecycle/node.py Entry rows; MENU_ORDER their BLS ids in the
    order GRUB lists them (the index); DEFAULT_KEY grubenv's saved_entry (a
    BLS id or a title); LAYERS {base: [layer, ...]}. As imgbased lists them,
    only entries titled "node" or "rhvh" whose arguments carry img.bootid=
    count, keyed by title; paths are grubby's, under /boot. Every value is a
    string.
    """
    listed = {}
    default = find_entry(entries, default_key)
    for entry in entries:
        if not ("node" in entry.title or "rhvh" in entry.title) or \
                "img.bootid=" not in entry.options:
            continue
        args = entry.options.split()
        root = next((arg[len("root="):] for arg in args if arg.startswith("root=")), "")
        index = menu_order.index(entry.entry_id) if entry.entry_id in menu_order else -1
        listed[entry.title] = {
            "index": str(index), "kernel": _boot_path(entry.linux),
            "args": " ".join(arg for arg in args if not arg.startswith("root=")),
            "root": root, "initrd": _boot_path(entry.initrd), "title": entry.title,
            "blsid": entry.entry_id}
    return {"bootloader": {"default": default.title if default else "", "entries": listed},
            "layers": {str(base): [str(layer) for layer in its] for base, its in layers.items()},
            "current_layer": running or ""}


def _boot_path(path):
    """A /boot-relative BLS path as grubby prints it, from /."""
    return "/boot/" + path.lstrip("/") if path else ""


def render_info(info):
    """Human `nodectl info`, as nodectl's own formatter lays it out."""
    lines = []

    def walk(key, value, indent):
        if isinstance(value, dict):
            lines.append(f"{' ' * indent}{key}: ")
            items = list(value.items())
            if key == "entries":
                items.sort(key=lambda item: int(item[1]["index"]))
            for sub_key, sub_value in items:
                walk(sub_key, sub_value, indent + 2)
        elif isinstance(value, list):
            lines.append(f"{' ' * indent}{key}: ")
            lines.extend(f"{' ' * (indent + 2)}{item}" for item in value)
        else:
            lines.append(f"{' ' * indent}{key}: {value}")

    for key, value in info.items():
        walk(key, value, 0)
    return "\n".join(lines)


# --- check
def health_result(verdict, running):
    """This boot's verdict as a pseudo check row (name "health"), or a warning when absent."""
    if not verdict or verdict.get("layer") != running:
        return {"name": "health", "status": "warning", "reason": "no health verdict for this "
                "boot yet (ovirt-node-health.service has not finished)"}
    if verdict.get("status") == "green":
        return {"name": "health", "status": "ok", "reason": "green"}
    failed = [f"{item.get('kind')} {item.get('name')}: {last_line(str(item.get('output', '')))}"
              for item in verdict.get("failed", []) if isinstance(item, dict)]
    return {"name": "health", "status": "failed", "reason": "red: " + "; ".join(failed)}


def _leaf(rows, names, parts):
    """(state, reason) of a leaf fed by the check rows NAMES, filtered by PARTS."""
    found = [rows[name] for name in names if name in rows]
    if not found:
        return ERROR, ""
    worst, reasons = OK, []
    for row in found:
        state = _OURS.get(row["status"], ERROR)
        if state == OK:
            continue
        pieces = row["reason"].split("; ")
        if parts:
            word, keep = parts
            pieces = [piece for piece in pieces if (word in piece) == keep]
            if not pieces:
                continue
        reasons += pieces
        worst = max(worst, state, key=_RANK.get)
    return worst, "; ".join(reasons)


def _value(state, reason):
    return state if state in (OK, ERROR) or not reason else f"{state} - {reason}"


def check_shape(rows, vdsmd_ok):
    """`nodectl check`'s JSON from our check rows ({name, status, reason} dicts, the
    health row included) and whether vdsmd is fine."""
    rows = {row["name"]: row for row in rows}
    shape = {"status": OK}
    worst = OK
    for key, _, why, leaves in GROUPS:
        group = {"status": OK}
        group_worst = OK
        for leaf_key, _, names, parts in leaves:
            state, reason = _leaf(rows, names, parts)
            group[leaf_key] = {"status": _value(state, reason)}
            group_worst = max(group_worst, state, key=_RANK.get)
        group["status"] = OK if group_worst == OK else \
            f"{WARN if group_worst == WARN else FAILED} - {why}"
        shape[key] = group
        worst = max(worst, group_worst, key=_RANK.get)
    shape["vdsmd"] = {"status": OK if vdsmd_ok else "bad"}
    if _RANK[worst] >= _RANK[FAILED]:
        shape["status"] = "bad"
    elif worst == WARN or not vdsmd_ok:
        shape["status"] = WARN
    return shape


_WORDS = {OK: "OK", WARN: "WARN", FAILED: "FAILED", ERROR: "ERROR", "bad": "BAD"}
_COLOURS = {OK: "\033[32m", WARN: "\033[33m"}
_FAIL_COLOUR = "\033[31m\033[1m"


def _word(value, colour):
    """'OK', 'FAILED - why', ... of a JSON status value, coloured like imgbased's on a tty."""
    state, _, reason = value.partition(" - ")
    word = _WORDS.get(state, state.upper())
    if colour:
        word = f"{_COLOURS.get(state, _FAIL_COLOUR)}{word}\033[0m"
    return f"{word} - {reason}" if reason else word


def top_word(shape):
    """OK, WARN or FAILED: the first line's word."""
    return {"ok": "OK", "warn": "WARN"}.get(shape["status"], "FAILED")


def render_check(shape, colour=False):
    """Human `nodectl check`: `Status: OK`, then `Group ... OK` and `  Check ... OK` lines."""
    top = {"OK": OK, "WARN": WARN}.get(top_word(shape), FAILED)
    lines = [f"Status: {_word(top, colour)}"]
    for key, label, _, leaves in GROUPS:
        lines.append(f"{label} ... {_word(shape[key]['status'], colour)}")
        lines += [f"  {leaf_label} ... {_word(shape[key][leaf_key]['status'], colour)}"
                  for leaf_key, leaf_label, _, _ in leaves]
    lines.append(f"vdsmd ... {_word(shape['vdsmd']['status'], colour)}")
    return "\n".join(lines)


def render_oneline(shape, colour=False):
    """`nodectl check --oneline`, as nodectl prints it (blank lines around)."""
    top = {"OK": OK, "WARN": WARN}.get(top_word(shape), FAILED)
    return f"\n  Node Status: {_word(top, colour)}\n"


def problems(shape):
    """'Label ... FAILED - why' of every leaf that failed or warns (and of a bad vdsmd),
    then how many could not run."""
    found, errors = [], 0
    for key, _, _, leaves in GROUPS:
        for leaf_key, leaf_label, _, _ in leaves:
            value = shape[key][leaf_key]["status"]
            errors += value == ERROR
            if value not in (OK, ERROR):
                found.append(f"{leaf_label} ... {_word(value, False)}")
    if shape["vdsmd"]["status"] != OK:
        found.append("vdsmd ... BAD")
    if errors:
        found.append(f"({errors} check{'s' if errors > 1 else ''} could not run)")
    return found


# --- motd
def motd_shape(shape):
    """`nodectl --machine-readable motd`."""
    return {"node_status": shape["status"], "additional_info": ADDITIONAL_INFO}


def render_motd(shape, colour=False):
    """Human `nodectl motd`: nodectl's lines, and when degraded what is not ok."""
    if shape["status"] == OK:
        state = "\033[32mOK\033[0m" if colour else "OK"
        lines = ["", f"  node status: {state}", "  See `nodectl check` for more information"]
    else:
        state = f"{_FAIL_COLOUR}DEGRADED\033[0m" if colour else "DEGRADED"
        lines = ["", f"  node status: {state}", f"  {ADDITIONAL_INFO}"]
        lines += [f"    {line}" for line in problems(shape)]
    return "\n".join(lines + [""])


# --- rollback and init
def rollback_shape(next_layer=None, reason=None):
    """`nodectl --machine-readable rollback`: success and the next layer, or why not."""
    if reason is None:
        return {"success": True, "next_layer": next_layer}
    return {"success": False, "reason": reason}


def render_result(result, success_line):
    """Human rollback/init result, as nodectl prints it."""
    if result["success"]:
        return f"Status: Success\n  {success_line}"
    return "Status: Failure\n  Reason:\n" + "\n".join(
        f"    {line}" for line in result["reason"].splitlines())


# --- generate-banner
def console_addresses(ip_json):
    """The global addresses in `ip -j addr` output, but libvirt's virbr bridges'."""
    found = []
    for link in json.loads(ip_json or "[]"):
        if str(link.get("ifname", "")).startswith("virbr"):
            continue
        for addr in link.get("addr_info", []):
            if addr.get("scope") == "global" and addr.get("local"):
                found.append(addr["local"])
    return found


def banner(addresses):
    """The Cockpit line: `Admin Console: https://A:9090/ or https://B:9090/`."""
    hosts = [f"[{address}]" if ":" in address else address for address in addresses]
    return "Admin Console: " + " or ".join(f"https://{host}:9090/" for host in hosts)
