"""Users and groups across an update: passwd, group, shadow and gshadow merged by name.

imgbased copied these files whole, so an account the new image added was
lost, and when image builds gave one system account different IDs, files
went to the wrong owner (BZ 1909782). Here each account is an item:

- the node's own users and groups are kept with every field: IDs,
  passwords, shadow fields, group memberships (a member the image adds to a
  group is added too; one the node added stays);
- an account the new image adds appears; one the node deleted stays
  deleted; one the image dropped but the node has stays;
- an account in both whose ID differs (drift) keeps the node's ID;
- an account the image adds whose ID the node already gives another name
  (the administrator's own user, say) gets a free ID, as shadow's
  `useradd -r` picks one: the highest free from SYS_UID_MAX (SYS_GID_MAX)
  down to SYS_UID_MIN, from the new image's login.defs, else 999 down to
  101 (shadow's defaults, which Debian keeps); a non-system one (ID 1000 or
  more) gets one above the highest in use, as plain `useradd` does.
  No ID of the old image, the node or the new image is reused.

The new layer's files the image gave a moved ID are then given the node's
(fix_ownership): the map is applied to the new layer's root filesystem only,
before the node's /etc files are carried in (those carry the node's IDs
already). The shared volumes (/var, /home, ...) are not touched: their files
are the node's, and an ID there means the node's account of that ID, so
remapping them would give the administrator's files to the image's account.
Only what the update itself copies from the image onto a volume (new /var
content, a new volume's seed) is given the moved IDs (etcmerge.fix_copied_owners).
Named entries of POSIX ACLs (`u:997:r`) are not renumbered: only owners are.
There is nothing to conflict: the result is computed per account, so these
files never get a `.imgnew`.
"""

import os
import stat
from dataclasses import dataclass, field
from typing import Dict, List

from org_ovirt_node.errors import NodeError
from org_ovirt_node.util import fscopy

USER_FILES = ("passwd", "shadow")
GROUP_FILES = ("group", "gshadow")
FILES = USER_FILES + GROUP_FILES
BACKUPS = tuple(name + "-" for name in FILES)
"""shadow's backup copies (vipw, useradd): written with the merged text too."""
_DEFAULT_SYSTEM_RANGE = (101, 999)
_FIRST_NORMAL_ID = 1000
_MAX_FILE = 1 << 24


@dataclass
class AccountsMerge:
    """What the merge of the four files gives: their texts and the IDs that moved."""

    texts: Dict[str, str] = field(default_factory=dict)     # file name: merged text
    uid_map: Dict[int, int] = field(default_factory=dict)   # image's ID: the new layer's
    gid_map: Dict[int, int] = field(default_factory=dict)
    added: List[str] = field(default_factory=list)          # "user NAME", "group NAME"
    renumbered: List[str] = field(default_factory=list)     # "user NAME: 998 -> 997 (why)"


class _Table:
    """The lines of one passwd-style file: entries by name, other lines kept."""

    def __init__(self, text):
        self.lines = []           # [name or None, fields or raw line]
        self.by_name = {}
        for line in (text or "").splitlines():
            fields = line.split(":")
            if line.strip() and not line.startswith("#") and fields[0] not in self.by_name:
                self.by_name[fields[0]] = fields
                self.lines.append((fields[0], fields))
            else:
                self.lines.append((None, line))

    def render(self):
        return "".join((":".join(item) if name is not None else item) + "\n"
                       for name, item in self.lines)

    def add(self, fields):
        fields = list(fields)
        self.by_name[fields[0]] = fields
        self.lines.append((fields[0], fields))

    def names(self):
        return [name for name, _ in self.lines if name is not None]


def read_text(etc, name):
    """The text of the account file ETC/NAME (None when absent or not a regular file)."""
    return _read(etc, name)


def _read(etc, name):
    """The text of ETC/NAME, or None when absent."""
    path = os.path.join(etc, name)
    if os.path.islink(path) or not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        text = handle.read(_MAX_FILE + 1)
    if len(text) > _MAX_FILE:
        raise NodeError(f"{path}: larger than {_MAX_FILE} bytes, not an account file")
    return text


def _id(fields, index, path):
    try:
        return int(fields[index])
    except (IndexError, ValueError):
        raise NodeError(f"/etc/{path}: {fields[0]} has no numeric ID in field {index + 1}") \
            from None


def system_range(etc, kind):
    """(lowest, highest) system ID of KIND ("UID" or "GID") in ETC/login.defs."""
    values = {}
    text = _read(etc, "login.defs") or ""
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in (f"SYS_{kind}_MIN", f"SYS_{kind}_MAX"):
            try:
                values[words[0]] = int(words[1])
            except ValueError:
                pass
    low = values.get(f"SYS_{kind}_MIN", _DEFAULT_SYSTEM_RANGE[0])
    high = values.get(f"SYS_{kind}_MAX", _DEFAULT_SYSTEM_RANGE[1])
    return (low, high) if 0 < low <= high else _DEFAULT_SYSTEM_RANGE


def free_id(used, wanted, system):
    """An ID for an account the image numbered WANTED, not in USED (see the module doc)."""
    low, high = system
    if wanted <= high:
        for candidate in range(high, low - 1, -1):
            if candidate not in used:
                return candidate
        raise NodeError(f"no free system ID left between {low} and {high}")
    return max([i for i in used if _FIRST_NORMAL_ID <= i < 60000] + [_FIRST_NORMAL_ID - 1]) + 1


def _merge_table(kind, old, local, new, id_index, used, system, result):
    """Merge the passwd or group TABLEs; return {image ID: node ID} and the added names."""
    id_map, added = {}, []
    label, path = ("user", "passwd") if kind == "UID" else ("group", "group")
    for name in new.names():
        fields = new.by_name[name]
        image_id = _id(fields, id_index, path)
        if name in local.by_name:
            node_id = _id(local.by_name[name], id_index, path)
            if node_id != image_id:
                id_map[image_id] = node_id
                result.renumbered.append(f"{label} {name}: the image's {image_id} -> the "
                                         f"node's {node_id} (kept)")
            continue
        if name in old.by_name:
            continue                                    # deleted on the node: stays deleted
        taken = {_id(local.by_name[other], id_index, path) for other in local.by_name}
        if image_id in taken:
            new_id = free_id(used, image_id, system)
            id_map[image_id] = new_id
            holder = next(other for other in local.names()
                          if _id(local.by_name[other], id_index, path) == image_id)
            result.renumbered.append(f"{label} {name}: the image's {image_id} -> {new_id} "
                                     f"({image_id} is {holder}'s on the node)")
            fields = fields[:id_index] + [str(new_id)] + fields[id_index + 1:]
        else:
            new_id = image_id
        used.add(new_id)
        local.add(fields)
        added.append(name)
        result.added.append(f"{label} {name}")
    return id_map, added


def _merge_members(old_fields, local_fields, new_fields, index):
    """The node's members of a group plus those the image added (field INDEX)."""
    def members(fields):
        value = fields[index] if fields is not None and len(fields) > index else ""
        return [name for name in value.split(",") if name]
    mine, theirs, before = members(local_fields), members(new_fields), members(old_fields)
    merged = mine + [name for name in theirs if name not in before and name not in mine]
    return ",".join(merged)


def _shadow_table(old, local, new, names, added, members_index=None, groups=None):
    """The shadow or gshadow table: the node's entries, the image's for ADDED names."""
    for name in names:
        if name in added and name in new.by_name and name not in local.by_name:
            local.add(new.by_name[name])
        elif members_index is not None and name in local.by_name:
            fields = local.by_name[name]
            while len(fields) <= members_index:
                fields.append("")
            fields[members_index] = _merge_members(old.by_name.get(name), fields,
                                                   new.by_name.get(name), members_index)
    return local


def plan_accounts(old, local, new):
    """The merged texts of the four files of /etc trees OLD, LOCAL and NEW; an AccountsMerge.

    A file the node lacks (or the image lacks) is left to the image's (or
    the node's) version as it is.
    """
    result = AccountsMerge()
    texts = {tree: {name: _read(path, name) for name in FILES}
             for tree, path in (("old", old), ("local", local), ("new", new))}
    tables = {tree: {name: _Table(text) for name, text in files.items()}
              for tree, files in texts.items()}
    every_gid = {int(f[2]) for tree in tables.values() for f in tree["group"].by_name.values()
                 if len(f) > 2 and f[2].isdigit()}
    every_uid = {int(f[2]) for tree in tables.values() for f in tree["passwd"].by_name.values()
                 if len(f) > 2 and f[2].isdigit()}
    group_ok = texts["local"]["group"] is not None and texts["new"]["group"] is not None
    user_ok = texts["local"]["passwd"] is not None and texts["new"]["passwd"] is not None
    o, l, n = tables["old"], tables["local"], tables["new"]
    if group_ok:
        result.gid_map, added = _merge_table("GID", o["group"], l["group"], n["group"], 2,
                                             every_gid, system_range(new, "GID"), result)
        for name in l["group"].names():
            if name in n["group"].by_name and name not in added:
                fields = l["group"].by_name[name]
                while len(fields) < 4:
                    fields.append("")
                fields[3] = _merge_members(o["group"].by_name.get(name), fields,
                                           n["group"].by_name[name], 3)
        result.texts["group"] = l["group"].render()
        if texts["local"]["gshadow"] is not None and texts["new"]["gshadow"] is not None:
            result.texts["gshadow"] = _shadow_table(
                o["gshadow"], l["gshadow"], n["gshadow"], l["group"].names(), added,
                members_index=3).render()
    if user_ok:
        result.uid_map, added = _merge_table("UID", o["passwd"], l["passwd"], n["passwd"], 2,
                                             every_uid, system_range(new, "UID"), result)
        for name in added:                      # their primary group as the node numbers it
            fields = l["passwd"].by_name[name]
            if len(fields) > 3 and fields[3].isdigit() and int(fields[3]) in result.gid_map:
                fields[3] = str(result.gid_map[int(fields[3])])
        result.texts["passwd"] = l["passwd"].render()
        if texts["local"]["shadow"] is not None and texts["new"]["shadow"] is not None:
            result.texts["shadow"] = _shadow_table(o["shadow"], l["shadow"], n["shadow"],
                                                   l["passwd"].names(), added).render()
    return result


def write_files(merge, local, target):
    """Write MERGE's texts into the /etc tree TARGET, with the node's owner, mode and
    xattrs (an SELinux label included).

    Each file is replaced by a new one renamed over it (a planted symlink is
    replaced, not followed); shadow's `-` backups get the same text.
    """
    for name, text in merge.texts.items():
        source = os.path.join(local, name)
        info = os.lstat(source)
        xattrs = fscopy.read_xattrs(source)
        for written in (name, name + "-"):
            path = os.path.join(target, written)
            if written != name and not os.path.lexists(path):
                continue
            partial = os.path.join(target, f".{written}.ovirt-node")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, text.encode("utf-8", "surrogateescape"))
                os.fchown(fd, info.st_uid, info.st_gid)
                os.fchmod(fd, stat.S_IMODE(info.st_mode))
                for name_, value in xattrs.items():
                    os.setxattr(fd, name_, value)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(partial, path)


def fix_ownership(root, uid_map, gid_map, skip=()):
    """Give every file of ROOT's filesystem the image owned by a moved ID the new one.

    Only ROOT's own filesystem is walked (a volume mounted below is another
    device and is skipped: see the module doc). Each file is looked at once
    and mapped from its original owner, so IDs that swap are right. chown
    clears set-id bits and file capabilities, so both are put back.
    Directories in SKIP are not entered. Returns how many entries changed owner.
    """
    if not uid_map and not gid_map:
        return 0
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode):
        return _remap(root, uid_map, gid_map)
    device = info.st_dev
    skip = {os.path.abspath(path) for path in skip}
    if os.path.abspath(root) in skip:
        return 0
    changed = 0
    for top, dirs, files in os.walk(root):
        dirs[:] = [name for name in dirs
                   if os.lstat(os.path.join(top, name)).st_dev == device
                   and os.path.abspath(os.path.join(top, name)) not in skip]
        for name in [None] + files + dirs if top == root else files + dirs:
            path = top if name is None else os.path.join(top, name)
            changed += _remap(path, uid_map, gid_map)
    return changed


def _remap(path, uid_map, gid_map):
    info = os.lstat(path)
    uid, gid = uid_map.get(info.st_uid, info.st_uid), gid_map.get(info.st_gid, info.st_gid)
    if (uid, gid) == (info.st_uid, info.st_gid):
        return 0
    capability = None
    if stat.S_ISREG(info.st_mode):
        try:
            capability = os.getxattr(path, "security.capability", follow_symlinks=False)
        except OSError:
            capability = None
    os.chown(path, uid, gid, follow_symlinks=False)
    if not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o7000:
        os.chmod(path, stat.S_IMODE(info.st_mode))
    if capability is not None:
        os.setxattr(path, "security.capability", capability, follow_symlinks=False)
    return 1


def moved_ids(new, target, name, id_index=2):
    """{the image's ID: the layer's} for the accounts of file NAME that /etc trees NEW and
    TARGET number differently: what an earlier merge into TARGET did."""
    image, layer = _Table(_read(new, name)), _Table(_read(target, name))
    return {int(fields[id_index]): int(layer.by_name[account][id_index])
            for account, fields in image.by_name.items()
            if account in layer.by_name and len(fields) > id_index
            and fields[id_index].isdigit() and layer.by_name[account][id_index].isdigit()
            and fields[id_index] != layer.by_name[account][id_index]}


def apply_again(merge, local, new, target, root):
    """Write MERGE into TARGET, an /etc an earlier merge wrote, and fix only the owners
    that merge did not already fix; the node's /etc (TARGET) is not walked: its files
    carry the node's IDs. Returns how many entries changed owner."""
    maps = []
    for name, wanted in (("passwd", merge.uid_map), ("group", merge.gid_map)):
        done = moved_ids(new, target, name)
        maps.append({done.get(image_id, image_id): node_id
                     for image_id, node_id in wanted.items()
                     if done.get(image_id, image_id) != node_id})
    changed = fix_ownership(root, maps[0], maps[1], skip=[target])
    write_files(merge, local, target)
    return changed
