"""Three-way merge of /etc when the node moves to a new image.

OLD is the running image's pristine /etc, LOCAL the node's /etc, NEW the new
image's /etc, and TARGET (the new layer's /etc) starts as a copy of NEW.
What the admin changed (against OLD) is carried into TARGET; what only the
image changed is already there. Unlike rpm-ostree, which lets a local file
win silently, a path changed on both sides is a *conflict* that is reported:
the local version stays and the image's regular file is put beside it as
`<path>.imgnew`. Unlike imgbased, owners, modes, xattrs (ACLs, SELinux
labels, capabilities), symlinks and device nodes count as changes and are
carried with the file.

passwd, group, shadow and gshadow are not files to take whole but tables
of accounts: accounts.py merges them by name (never a conflict) and fixes
the new layer's owners where the image's IDs moved.

Directories that are directories in both LOCAL and NEW are merged entry by
entry (their own owner/mode/xattrs are an item like any file). Anywhere else
a directory is one unit: a directory added locally is copied whole, and
"changed" compares the whole subtree, because TARGET will hold either one
side's directory or the other's.
"""

import os
import re
import stat
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

from org_ovirt_node.errors import NodeError
from org_ovirt_node.install import bootconfig
from org_ovirt_node.lifecycle import accounts
from org_ovirt_node.util import fscopy
from org_ovirt_node.util.fstab import FstabEntry, parse_fstab

KEEP_LOCAL = "keep-local"
DELETE_LOCAL = "delete-local"
TAKE_NEW = "take-new"
ADD_NEW = "add-new"
REMOVE_NEW = "remove-new"
CONFLICT = "conflict"
MERGE_ACCOUNTS = "merge-accounts"

IMGNEW = ".imgnew"
"""Suffix of the image's version of a conflicting file, written beside the local one."""

_FROM_LOCAL = (KEEP_LOCAL, DELETE_LOCAL, CONFLICT)
_UNIT_LINK_DIR = re.compile(r"systemd/(system|user)/[^/]+\.(wants|requires|upholds)")
"""Where `systemctl enable` puts its symlinks: a set of links, merged link by link even
when one side has no such directory (systemctl removes it with its last link)."""


@dataclass(frozen=True)
class MergeItem:
    """One path (relative to /etc) the merge acts on or reports, with why."""

    path: str
    action: str
    reason: str

    def to_dict(self):
        """A plain dict for JSON output."""
        return asdict(self)


@dataclass(frozen=True)
class AccountsItem(MergeItem):
    """passwd, group, shadow or gshadow, merged by name; MERGE is the AccountsMerge."""

    merge: object = field(default=None, compare=False, repr=False)

    def to_dict(self):
        """A plain dict for JSON output (the merged texts stay out)."""
        return {"path": self.path, "action": self.action, "reason": self.reason}


class _Entry(NamedTuple):
    """A path in one of the trees with its lstat result."""

    path: str
    info: os.stat_result

    @property
    def is_dir(self):
        return stat.S_ISDIR(self.info.st_mode)

    @property
    def is_file(self):
        return stat.S_ISREG(self.info.st_mode)


def plan_merge(old, local, new):
    """Compare the OLD, LOCAL and NEW /etc trees; return MergeItems sorted by path.

    Nothing is written. Paths changed identically on both sides give no item.
    """
    roots = tuple(_root_entry(root) for root in (old, local, new))
    merge = accounts.plan_accounts(old, local, new)
    items = _accounts_items(merge, local, new)
    skip = set(merge.texts) | {name + "-" for name in merge.texts}
    _plan_directory(roots, "", items, skip)
    return sorted(items, key=lambda item: item.path)


def _accounts_items(merge, local, new):
    """An AccountsItem for each account file whose merge differs from the image's file."""
    items = []
    reason = "merged by name" + "".join(
        f"; {what}: {', '.join(names)}" for what, names in
        (("added by the image", merge.added), ("renumbered", merge.renumbered)) if names)
    for name, text in sorted(merge.texts.items()):
        image = _entry(os.path.join(new, name))
        same = (image is not None and accounts.read_text(new, name) == text and
                _identity(image)[:3] == _identity(_entry(os.path.join(local, name)))[:3])
        if not same or merge.uid_map or merge.gid_map:
            items.append(AccountsItem(name, MERGE_ACCOUNTS, reason, merge))
    return items


def _accounts_merge(items):
    """The AccountsMerge the ITEMS carry, or None."""
    return next((item.merge for item in items if isinstance(item, AccountsItem)), None)


def fix_copied_owners(items, path):
    """Give what the update copied from the image to PATH (on a volume) the IDs the merge
    (ITEMS) moved the image's accounts to. Only what was copied: the volume's own files
    are the node's (accounts.py)."""
    merge = _accounts_merge(items)
    if merge is not None:
        _guarded(path, lambda: accounts.fix_ownership(path, merge.uid_map, merge.gid_map))


def apply_merge(items, local, new, target, root=None):
    """Carry out ITEMS (from plan_merge) in TARGET, a copy of NEW; return the conflicting paths.

    The account files are written merged, and first the owners the image's
    moved IDs had are fixed in ROOT (the new layer's root; TARGET alone when
    not given), before any of the node's files is carried in.
    Directory metadata is set last and deepest first, so copying entries into
    a directory does not change the times it ends with.
    """
    merge = _accounts_merge(items)
    if merge is not None:
        _guarded(target, lambda: accounts.fix_ownership(root or target, merge.uid_map,
                                                        merge.gid_map))
        _guarded(target, lambda: accounts.write_files(merge, local, target))
    deferred = []
    for item in items:
        if item.action in _FROM_LOCAL:
            _make_link_set(item.path, local, target)
        if item.action in _FROM_LOCAL and _put_local(item.path, local, target):
            deferred.append(item.path)
    conflicts = [item.path for item in items if item.action == CONFLICT]
    for path in conflicts:
        _put_imgnew(path, new, target)
    for path in reversed(deferred):
        _put_local_metadata(path, local, target)
    return conflicts


def remerge(old, local, new, target, changed, root=None):
    """Merge again, into a TARGET an earlier merge made, only the CHANGED paths of LOCAL.

    TARGET is no longer a copy of NEW, so each changed path gets the merge's
    result written out whatever it is: the local version (or its absence)
    when the merge keeps local, else the image's. The unit written is the
    path itself, or its nearest ancestor the merge takes whole (a directory
    not on both sides), replaced whole. Returns [(unit, action)] written and
    the conflicting units (their .imgnew rewritten; a stale one goes).
    A changed account file is merged by name again (accounts.apply_again),
    fixing owners in ROOT (none when not given) outside TARGET.
    """
    planned = plan_merge(old, local, new)
    items = {item.path: item for item in planned}
    units = sorted({_merge_unit(path, local, new) for path in changed})
    written, conflicts, deferred = [], [], []
    merge = _accounts_merge(planned) or accounts.plan_accounts(old, local, new)
    mine = set(merge.texts) | {name + "-" for name in merge.texts}
    if any(unit in mine for unit in units):
        _guarded(target, lambda: accounts.apply_again(merge, local, new, target,
                                                      root or target))
        written += [(unit, MERGE_ACCOUNTS) for unit in units if unit in mine]
    for unit in units:
        if unit in mine:
            continue
        item = items.get(unit)
        merged = _merged_dir(unit, local, new)
        if item is None and merged:
            continue            # only its entries changed; each is a unit of its own
        source = local if item is not None and item.action in _FROM_LOCAL else new
        _make_link_set(unit, source, target)
        if not merged:
            _remove_in_target(unit, target)     # replaced whole, not merged into
        if _put_local(unit, source, target):
            deferred.append((unit, source))
        if item is not None and item.action == CONFLICT:
            conflicts.append(unit)
            _put_imgnew(unit, new, target)
        elif _entry(os.path.join(new, unit + IMGNEW)) is None:
            _remove_in_target(unit + IMGNEW, target)
        written.append((unit, item.action if item is not None else TAKE_NEW))
    for unit, source in reversed(deferred):
        _put_local_metadata(unit, source, target)
    return written, conflicts


def _remove_in_target(path, target):
    """Remove TARGET's PATH (a directory whole) if it is there."""
    parent, name = fscopy.split_rel(path)
    if parent and _UNIT_LINK_DIR.fullmatch(parent) and \
            fscopy.lstat(os.path.join(target, parent)) is None:
        return                  # a link set the layer lacks holds nothing to remove
    _in_target(path, target, parent, lambda dir_fd: fscopy.remove_entry(dir_fd, name))


def _both_dirs(path, local, new):
    """Whether PATH is a real directory in both LOCAL and NEW (merged entry by entry)."""
    entries = [_entry(os.path.join(side, path)) for side in (local, new)]
    return all(entry is not None and entry.is_dir for entry in entries)


def _merged_dir(path, local, new):
    """Whether the merge takes PATH entry by entry: a directory on both sides, or a unit
    link set (which a side may lack)."""
    return _both_dirs(path, local, new) or _link_set(
        path, (None, _entry(os.path.join(local, path)), _entry(os.path.join(new, path))))


def _merge_unit(path, local, new):
    """PATH, or its nearest ancestor that the merge decides as a whole."""
    parts = path.split("/")
    for depth in range(1, len(parts)):
        prefix = "/".join(parts[:depth])
        if not _merged_dir(prefix, local, new):
            return prefix
    return path


def point_fstab_at(root, device):
    """Make ROOT's fstab mount DEVICE on / (the merge kept the old layer's line)."""
    path = os.path.join(root, "etc", "fstab")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    old = next((entry for entry in parse_fstab(text) if entry.mountpoint == "/"), None)
    new = FstabEntry(device, "/", old.fstype if old else "ext4",
                     old.options if old else "defaults,discard",
                     old.dump if old else 1, old.passno if old else 1)
    bootconfig.write_fstab(root, [new])


def _root_entry(root):
    """The entry of tree ROOT, which must be a real directory."""
    entry = _entry(root)
    if entry is None or not entry.is_dir:
        raise NodeError(f"{root}: not a directory, cannot merge /etc")
    return entry


def _entry(path):
    """The _Entry at PATH (never following a symlink), or None when absent."""
    info = fscopy.lstat(path)
    return None if info is None else _Entry(path, info)


def _children(entry):
    """The entries inside ENTRY by name; none unless it is a real directory."""
    if entry is None or not entry.is_dir:
        return {}
    return {name: _entry(os.path.join(entry.path, name)) for name in os.listdir(entry.path)}


def _plan_directory(parents, rel, items, skip=()):
    """Append the items for the entries of directory REL, given its (old, local, new) entries.

    Names in SKIP (at the top only) are merged elsewhere (the account files).
    """
    children = [_children(parent) for parent in parents]
    for name in sorted(set().union(*children) - set(skip)):
        path = os.path.join(rel, name)
        old, local, new = (side.get(name) for side in children)
        merged = local is not None and new is not None and local.is_dir and new.is_dir
        if not merged and _link_set(path, (old, local, new)):
            # a link set a side lacks is an empty one: the links are the items
            _plan_directory((old, local, new), path, items)
            continue
        item = _decide(path, old, local, new, merged)
        if item:
            items.append(item)
        if merged:
            _plan_directory((old, local, new), path, items)


def _link_set(path, entries):
    """Whether PATH is a unit link directory (.wants/.requires/.upholds) on every side
    that has it (a side may lack it) and LOCAL or NEW has it."""
    return bool(_UNIT_LINK_DIR.fullmatch(path)) and \
        all(entry is None or entry.is_dir for entry in entries) and \
        any(entry is not None for entry in entries[1:])


def _make_link_set(path, local, target):
    """Create the unit link directory PATH's parent in TARGET, as LOCAL has it, if missing."""
    parent = os.path.dirname(path)
    if not _UNIT_LINK_DIR.fullmatch(parent) or fscopy.lstat(os.path.join(target, parent)):
        return
    source = os.path.join(local, parent)
    if not os.path.isdir(source) or os.path.islink(source):
        return
    grand, name = fscopy.split_rel(parent)

    def make(dir_fd):
        os.mkdir(name, 0o700, dir_fd=dir_fd)
        fscopy.copy_metadata(source, dir_fd, name)
    _in_target(parent, target, grand, make)


def _decide(path, old, local, new, merged):
    """The MergeItem for PATH, or None when nothing needs doing or telling.

    MERGED says PATH's content is merged entry by entry, so only the entry
    itself is compared; otherwise a directory is compared as a whole tree.
    """
    same = _same_entry if merged else _same_tree
    local_changed = not same(old, local)
    image_changed = not same(old, new)
    if local_changed and image_changed:
        if same(local, new):
            return None
        return MergeItem(path, CONFLICT, _conflict_reason(local, new))
    if local_changed:
        return _local_item(path, old, local, merged)
    if image_changed:
        return _image_item(path, old, new)
    return None


def _local_item(path, old, local, merged):
    """The item for a change made only on the node."""
    if local is None:
        return MergeItem(path, DELETE_LOCAL, "deleted locally: stays deleted")
    reason = "added locally" if old is None else "changed locally"
    if local.is_dir and not merged:
        reason += ": directory copied whole"
    return MergeItem(path, KEEP_LOCAL, reason)


def _image_item(path, old, new):
    """The item for a change made only by the image (TARGET already has it)."""
    if old is None:
        return MergeItem(path, ADD_NEW, "added in the image")
    if new is None:
        return MergeItem(path, REMOVE_NEW, "removed in the image")
    return MergeItem(path, TAKE_NEW, "changed in the image")


def _conflict_reason(local, new):
    """Say what a conflict leaves in TARGET."""
    if new is None:
        return "changed locally and removed in the image: local kept"
    imgnew = f", new as {IMGNEW}" if new.is_file else ""
    if local is None:
        return f"deleted locally and changed in the image: stays deleted{imgnew}"
    return f"changed in the image and locally: local kept{imgnew}"


def _same_tree(a, b):
    """Whether A and B are the same entry and, for directories, hold the same tree."""
    if not _same_entry(a, b):
        return False
    if a is None or not a.is_dir:
        return True
    inside_a, inside_b = _children(a), _children(b)
    return inside_a.keys() == inside_b.keys() and all(
        _same_tree(child, inside_b[name]) for name, child in inside_a.items())


def _same_entry(a, b):
    """Whether A and B agree in kind, mode, owner, xattrs and content (or link target, device).

    Times are not compared: an unpacked or copied file gets new ones.
    """
    if a is None or b is None:
        return a is b
    if _identity(a) != _identity(b):
        return False
    if stat.S_ISLNK(a.info.st_mode) and os.readlink(a.path) != os.readlink(b.path):
        return False
    if fscopy.read_xattrs(a.path) != fscopy.read_xattrs(b.path):
        return False
    return not a.is_file or _same_content(a.path, b.path)


def _identity(entry):
    """What lstat tells about ENTRY that a change shows in (mode holds the kind)."""
    info = entry.info
    size = info.st_size if entry.is_file else 0
    rdev = info.st_rdev if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else 0
    return info.st_mode, info.st_uid, info.st_gid, size, rdev


def _same_content(path_a, path_b):
    """Whether two regular files hold the same bytes, read CHUNK by CHUNK."""
    with fscopy.open_source(path_a) as file_a, fscopy.open_source(path_b) as file_b:
        while True:
            chunk = file_a.read(fscopy.CHUNK)
            if chunk != file_b.read(fscopy.CHUNK):
                return False
            if not chunk:
                return True


def _put_local(path, local, target):
    """Make TARGET's PATH the local version (or absent); True when only its metadata is left.

    A directory on both sides keeps its content (merged item by item) and
    only gets the local owner/mode/xattrs/times, later.
    """
    source = _entry(os.path.join(local, path))
    parent, name = fscopy.split_rel(path)

    def put(dir_fd):
        there = fscopy.lstat(name, dir_fd)
        if source is not None and source.is_dir and there and stat.S_ISDIR(there.st_mode):
            return True
        fscopy.remove_entry(dir_fd, name)
        if source is not None:
            fscopy.copy_entry(source.path, dir_fd, name)
        return False
    return _in_target(path, target, parent, put)


def _put_imgnew(path, new, target):
    """Write the image's regular file PATH beside the local one as PATH.imgnew."""
    source = _entry(os.path.join(new, path))
    if source is None or not source.is_file:
        return
    parent, name = fscopy.split_rel(path + IMGNEW)

    def put(dir_fd):
        fscopy.remove_entry(dir_fd, name)
        fscopy.copy_entry(source.path, dir_fd, name)
    _in_target(path, target, parent, put)


def _put_local_metadata(path, local, target):
    """Give TARGET's directory PATH the owner, mode, xattrs and times of the local one."""
    parent, name = fscopy.split_rel(path)
    source = os.path.join(local, path)
    _in_target(path, target, parent, lambda dir_fd: fscopy.copy_metadata(source, dir_fd, name))


def _guarded(target, action):
    """ACTION(); an OSError becomes a one-line NodeError about the account files."""
    try:
        return action()
    except OSError as error:
        raise NodeError(f"merging the account files into {target} failed: "
                        f"{error.filename + ': ' if error.filename else ''}"
                        f"{error.strerror or error}") from None


def _in_target(path, target, parent, action):
    """Run ACTION(dir_fd of TARGET/PARENT); an OSError becomes a one-line NodeError about PATH."""
    try:
        with fscopy.open_dir(target, parent) as dir_fd:
            return action(dir_fd)
    except OSError as error:
        raise NodeError(f"merging /etc/{path} into {target} failed: "
                        f"{error.strerror or error}") from None
