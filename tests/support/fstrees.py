"""Small helpers for tests that build file trees and compare what was kept."""

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
