"""Bring what a new image adds under /var onto the node, without rewriting /var.

/var holds the node's state (databases, logs, VM disks), so an update never
replaces or edits anything there, even where the image's version differs:
it only adds the entries the node does not have yet (a new service's state
directory, say). The node's /var may be several mounted volumes; nested
mount points are handled by the caller (SKIP), and a symlink in either tree
is never crossed.
"""

import os
import stat

from org_ovirt_node.errors import NodeError
from org_ovirt_node.util import fscopy


def plan_copy_absent(source, target, skip=()):
    """Paths relative to SOURCE (the image's /var) that TARGET (the node's /var) lacks.

    A missing directory is listed once, its subtree comes with it. Paths in
    SKIP (relative, e.g. "log/audit") are neither listed nor descended into.
    Nothing is written. The list is in walk order, parents first.
    """
    found = []
    _plan_directory(source, target, "", {path.strip("/") for path in skip}, found)
    return found


def copy_absent(paths, source, target):
    """Copy PATHS (from plan_copy_absent) from SOURCE into TARGET with all metadata.

    A path that exists in TARGET by now is left alone; a symlink on the way
    to it in TARGET raises NodeError. Returns the paths copied.
    """
    return [path for path in paths if _copy_one(path, source, target)]


def _plan_directory(source, target, rel, skip, found):
    """Append to FOUND what TARGET lacks of directory REL, descending where both have it."""
    for name in sorted(os.listdir(os.path.join(source, rel))):
        path = os.path.join(rel, name)
        if path in skip:
            continue
        there = fscopy.lstat(os.path.join(target, path))
        if there is None:
            found.append(path)
        elif stat.S_ISDIR(there.st_mode) and _is_real_dir(os.path.join(source, path)):
            _plan_directory(source, target, path, skip, found)


def _copy_one(path, source, target):
    """Copy SOURCE/PATH to TARGET/PATH unless something is there; True when copied.

    copy_entry only creates names exclusively, so "something is there" is
    decided atomically by the kernel, not by an earlier look.
    """
    parent, name = fscopy.split_rel(path)
    try:
        with fscopy.open_dir(target, parent) as dir_fd:
            fscopy.copy_entry(os.path.join(source, path), dir_fd, name)
            return True
    except FileExistsError:
        return False
    except OSError as error:
        raise NodeError(f"copying /var/{path} into {target} failed: "
                        f"{error.strerror or error}") from None


def _is_real_dir(path):
    """Whether PATH is a directory and not a symlink to one."""
    info = fscopy.lstat(path)
    return info is not None and stat.S_ISDIR(info.st_mode)
