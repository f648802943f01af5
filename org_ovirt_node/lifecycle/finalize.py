"""`ovirt-node finalize`: carry /etc edits made after an online update into the new layer.

An update on a booted node merges /etc while the node keeps running, so an
edit made between the update and the reboot would be lost in the new layer.
As ostree's ostree-finalize-staged does, the update records what the merge
saw (stage(): the signature of every /etc entry, in
/boot/ovirt-node/finalize.json) and starts ovirt-node-finalize.service,
whose ExecStop runs this at shutdown. Then whatever was added, removed or
changed in the live /etc since is merged again, with the update's own
three-way merge (etcmerge.remerge), into the new layer, and the record goes.
A record that no longer fits the node (another layer booted, the default
moved away, the layer is gone) is dropped, and nothing is written.
"""

import json
import os
import stat

from org_ovirt_node.errors import NodeError
from org_ovirt_node.lifecycle import etcmerge
from org_ovirt_node.lifecycle.roots import mounted_base, mounted_layer
from org_ovirt_node.lifecycle.state import STATE_DIR
from org_ovirt_node.util.atomic import remove_durably, write_atomic
from org_ovirt_node.util.jsonfile import read_json

RECORD = "finalize.json"
_MAX_RECORD = 64 << 20
_KINDS = ((stat.S_ISREG, "f"), (stat.S_ISDIR, "d"), (stat.S_ISLNK, "l"), (stat.S_ISCHR, "c"),
          (stat.S_ISBLK, "b"), (stat.S_ISFIFO, "p"), (stat.S_ISSOCK, "s"))


def record_path(boot):
    """Where the staged-update record lives on the /boot mounted at BOOT."""
    return os.path.join(boot, STATE_DIR, RECORD)


def signature(path, info):
    """[type, mode, uid, gid, size, mtime_ns, symlink target] of the entry at PATH."""
    kind = next((letter for test, letter in _KINDS if test(info.st_mode)), "?")
    target = os.readlink(path) if kind == "l" else None
    return [kind, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, info.st_size,
            info.st_mtime_ns, target]


def manifest(etc):
    """{path relative to ETC: signature} of every entry below ETC, never following symlinks."""
    found = {}
    pending = [""]
    while pending:
        rel = pending.pop()
        with os.scandir(os.path.join(etc, rel)) as listing:
            for item in listing:
                path = f"{rel}/{item.name}" if rel else item.name
                info = item.stat(follow_symlinks=False)
                found[path] = signature(item.path, info)
                if stat.S_ISDIR(info.st_mode):
                    pending.append(path)
    return found


def changed_paths(before, after):
    """Sorted paths added, removed or changed between manifests BEFORE and AFTER."""
    return sorted(path for path in set(before) | set(after)
                  if before.get(path) != after.get(path))


def stage(boot, layer, nvr, from_layer, old_base, etc_manifest):
    """Record the update to finalize at shutdown (write_atomic: all or nothing)."""
    data = {"layer": layer, "nvr": nvr, "from_layer": from_layer, "old_base": old_base,
            "manifest": etc_manifest}
    write_atomic(record_path(boot), (json.dumps(data, sort_keys=True) + "\n").encode("utf-8"))


def unstage(boot):
    """Drop the record, if any; True if there was one."""
    return remove_durably(record_path(boot))


def read_record(boot):
    """The staged-update record on BOOT, or None; a damaged one is a NodeError."""
    path = record_path(boot)
    data = read_json(path, "staged update", _MAX_RECORD, "; remove it to go on")
    if data is None:
        return None
    keys = ("layer", "nvr", "from_layer", "old_base")
    if not isinstance(data, dict) or not all(isinstance(data.get(key), str) for key in keys) \
            or not isinstance(data.get("manifest"), dict):
        raise NodeError(f"{path}: not a staged-update record; remove it to go on")
    return data


def why_not(node, data):
    """Why record DATA no longer fits NODE (a sentence), or None when it does."""
    if data["from_layer"] != node.running:
        return (f"the update was made from {data['from_layer']}, but "
                f"{node.running or 'no layer'} is running")
    default = node.default_layer()
    if default != data["layer"]:
        return f"the boot default is now {default or 'no layer'}, not {data['layer']}"
    layers = node.layers()
    if data["layer"] not in layers:
        return f"the layer {data['layer']} is gone"
    if data["old_base"] not in node.bases() or data["nvr"] not in node.bases():
        return f"the base {data['old_base']} or {data['nvr']} is gone"
    return None


def finalize(node, etc="/etc"):
    """Carry what changed in the live ETC since the staged update; return the result dict."""
    data = read_record(node.boot)
    if data is None:
        return {"action": "none", "reason": "no staged update: nothing to do",
                "layer": None, "carried": [], "conflicts": []}
    result = {"layer": data["layer"], "carried": [], "conflicts": []}
    reason = why_not(node, data)
    if reason:
        node.make_writable()
        unstage(node.boot)
        return dict(result, action="dropped", reason=f"staged update dropped: {reason}")
    changed = changed_paths(data["manifest"], manifest(etc))
    node.make_writable()
    if changed:
        with mounted_base(node, data["old_base"]) as old, \
                mounted_base(node, data["nvr"]) as new, \
                mounted_layer(node, data["layer"], write=True) as target:
            written, conflicts = etcmerge.remerge(
                os.path.join(old, "etc"), etc, os.path.join(new, "etc"),
                os.path.join(target, "etc"), changed, root=target)
            etcmerge.point_fstab_at(target, node.lv_path(data["layer"]))
        result["carried"] = [{"path": path, "action": action} for path, action in written]
        result["conflicts"] = conflicts
    unstage(node.boot)
    if not changed:
        return dict(result, action="unchanged",
                    reason=f"/etc did not change since the update to {data['layer']}")
    return dict(result, action="carried",
                reason=f"carried {len(result['carried'])} changed /etc path(s) into "
                       f"{data['layer']}")
