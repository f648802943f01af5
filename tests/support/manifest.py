"""A manifest of a directory tree: every file's kind, metadata and content hash.

Run on the source tree on the host and on the installed layer in the VM, the
two manifests must be equal; that is how the tests show that deploy keeps
content, modes, owners, xattrs, ACLs, hardlinks, device nodes and symlinks.
Usable as a script: python3 manifest.py ROOT [EXCLUDE...] > manifest.json
"""

import hashlib
import json
import os
import stat
import sys


def _xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    return {name: os.getxattr(path, name, follow_symlinks=False).hex() for name in sorted(names)}


def sha256(path):
    """Hex SHA-256 of the file at PATH."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_manifest(root, exclude=()):
    """{relative path: facts} for everything below ROOT except EXCLUDE subtrees."""
    entries = {}
    inodes = {}
    excluded = {item.strip("/") for item in exclude}
    for directory, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        dirnames[:] = sorted(name for name in dirnames
                             if os.path.normpath(os.path.join(rel_dir, name)) not in excluded)
        for name in sorted(dirnames + filenames):
            path = os.path.join(directory, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if rel in excluded:
                continue
            info = os.lstat(path)
            facts = {"mode": oct(info.st_mode), "uid": info.st_uid, "gid": info.st_gid,
                     "xattrs": _xattrs(path)}
            if stat.S_ISREG(info.st_mode):
                facts.update(size=info.st_size, sha256=sha256(path), mtime=int(info.st_mtime),
                             sparse=info.st_blocks * 512 < info.st_size)
                if info.st_nlink > 1:
                    inodes.setdefault((info.st_dev, info.st_ino), []).append(rel)
            elif stat.S_ISLNK(info.st_mode):
                facts["target"] = os.readlink(path)
            elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                facts["rdev"] = [os.major(info.st_rdev), os.minor(info.st_rdev)]
            entries[rel] = facts
    for group in inodes.values():
        for rel in group:
            entries[rel]["hardlinks"] = sorted(group)
    return entries


if __name__ == "__main__":
    json.dump(build_manifest(sys.argv[1], sys.argv[2:]), sys.stdout, sort_keys=True)
