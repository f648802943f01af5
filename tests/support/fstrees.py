"""Small helpers for tests that build file trees and compare what was kept."""

import hashlib
import os

from org_ovirt_node.util.fscopy import read_xattrs


def write(path, data=b"x\n"):
    """Write DATA to PATH, making its directories."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


def read(path):
    """PATH's bytes."""
    with open(path, "rb") as handle:
        return handle.read()


def metadata(path):
    """What a copy must keep: kind+mode, owner, mtime and every xattr (ACLs included)."""
    info = os.lstat(path)
    return info.st_mode, info.st_uid, info.st_gid, info.st_mtime_ns, read_xattrs(path)


def snapshot(root):
    """Every path below ROOT with its kind, mode, owner, size, mtime and content hash
    (link target for a symlink): equal snapshots mean a byte-identical tree."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in dirs + sorted(files):
            path = os.path.join(folder, name)
            info = os.lstat(path)
            entry = [info.st_mode, info.st_uid, info.st_gid, info.st_size, info.st_mtime_ns]
            if os.path.islink(path):
                entry.append(os.readlink(path))
            elif os.path.isfile(path):
                entry.append(hashlib.sha256(read(path)).hexdigest())
            found[os.path.relpath(path, root)] = tuple(entry)
    return found
