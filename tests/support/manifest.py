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


# Paths the installer writes or the image build adds on purpose.
INSTALLER_PATHS = ("etc/fstab", "etc/lvm", "etc/lvm/profile",
                   "etc/lvm/profile/imgbased-pool.profile", "etc/grub2.cfg", "etc/grub2-efi.cfg",
                   "usr/share/imgbase",
                   "usr/share/imgbase/build", "usr/share/imgbase/build/meta",
                   "usr/share/imgbase/build/meta/nvr", "lost+found",
                   "var/imgbased", "var/imgbased/.skip-volumes")


def assert_same_files(tree, got, ignore_keys=(), ignore_xattr_prefix=None):
    """Every file of TREE is in the installed view GOT (a manifest), identical.

    /boot is compared elsewhere (it is the boot partition on a node), the
    paths the installer writes are left out, directories' mtimes are not kept
    by any copy; IGNORE_KEYS and xattrs named with IGNORE_XATTR_PREFIX drop
    facts a given image format or install path cannot keep.
    """
    expected = build_manifest(tree, ["boot"])
    for path in INSTALLER_PATHS:
        expected.pop(path, None)
        got.pop(path, None)
    for facts in list(expected.values()) + list(got.values()):
        if "sha256" not in facts:
            facts.pop("mtime", None)
        for key in ignore_keys:
            facts.pop(key, None)
        if ignore_xattr_prefix:
            facts["xattrs"] = {name: value for name, value in facts["xattrs"].items()
                               if not name.startswith(ignore_xattr_prefix)}
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    assert not missing and not extra, (missing[:20], extra[:20])
    different = [path for path in expected if expected[path] != got[path]]
    assert not different, [(p, expected[p], got[p]) for p in different[:5]]


if __name__ == "__main__":
    json.dump(build_manifest(sys.argv[1], sys.argv[2:]), sys.stdout, sort_keys=True)
