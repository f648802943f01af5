"""Small root trees and images for the image tests, and a way to compare trees.

`make_root_tree` writes the least a node image needs (a kernel, os-release);
`add_every_file_kind` adds one of each thing a root filesystem may hold, so a
test can prove the image keeps it. `manifest` describes a tree by everything
an installed node depends on (type, mode, owner, size, content, link target,
device number, xattrs and ACLs, holes, hard-link groups), so two trees compare
with one `==`.
"""

import hashlib
import os
import shutil
import socket
import stat
import subprocess

import pytest

from org_ovirt_node.constants import NVR_PATH_IN_IMAGE

KERNEL = "6.1.0-test"
OS_NAME = "Test Node"
OS_VERSION = "1.0 (Test)"
NVR = "test-node-ng-1.0-0.1"
SPARSE_SIZE = 64 << 20

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("mksquashfs") or not shutil.which("mke2fs"),
    reason="image tests need root (loop mounts), mksquashfs and mke2fs")


def make_root_tree(root, kernels=(KERNEL,), nvr=None, os_release=True):
    """Write a minimal root tree at ROOT and return ROOT."""
    for name in ("boot", "etc", "usr/lib", "usr/bin", "var/log", "var/lib/test"):
        os.makedirs(os.path.join(root, name), exist_ok=True)
    for kver in kernels:
        write(root, f"boot/vmlinuz-{kver}", b"not really a kernel " + kver.encode())
        write(root, f"boot/initramfs-{kver}.img", b"not really an initramfs")
    if os_release:
        write(root, "usr/lib/os-release",
              f'NAME="{OS_NAME}"\nVERSION="{OS_VERSION}"\nVERSION_ID=1.0\n'.encode())
        os.symlink("../usr/lib/os-release", os.path.join(root, "etc/os-release"))
    write(root, "etc/fstab", b"# empty\n")
    write(root, "var/log/test.log", b"log line\n" * 100)
    if nvr:
        write(root, NVR_PATH_IN_IMAGE, f"{nvr}\n".encode())
    return root


def write(root, relpath, data, mode=0o644):
    """Write DATA to ROOT/RELPATH, making parent directories."""
    path = os.path.join(root, relpath)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as stream:
        stream.write(data)
    os.chmod(path, mode)
    return path


def add_every_file_kind(root):
    """Add one of each file kind under ROOT/usr/share/fixtures; return that dir."""
    base = os.path.join(root, "usr/share/fixtures")
    os.makedirs(base)
    data = write(root, "usr/share/fixtures/data", b"data\n" * 1000)
    os.link(data, os.path.join(base, "data.hardlink"))
    os.symlink("data", os.path.join(base, "relative-link"))
    os.symlink("/usr/share/fixtures/data", os.path.join(base, "absolute-link"))
    os.symlink("does-not-exist", os.path.join(base, "dangling-link"))
    os.symlink("x" * 200, os.path.join(base, "long-link"))
    tagged = write(root, "usr/share/fixtures/with xattr é", b"tagged\n")
    os.setxattr(tagged, "user.demo", b"hello")
    os.setxattr(tagged, "user.big", b"v" * 300)
    acl = write(root, "usr/share/fixtures/acl", b"acl\n")
    subprocess.run(["setfacl", "-m", "u:1234:rw,g:2345:r", acl], check=True)
    acl_dir = os.path.join(base, "acl-dir")
    os.mkdir(acl_dir)
    subprocess.run(["setfacl", "-d", "-m", "u:1234:rwx", acl_dir], check=True)
    os.mknod(os.path.join(base, "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(os.path.join(base, "loop9"), 0o660 | stat.S_IFBLK, os.makedev(7, 9))
    os.mkfifo(os.path.join(base, "fifo"))
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(os.path.join(base, "socket"))
    sparse = os.path.join(base, "sparse")
    with open(sparse, "wb") as stream:
        stream.truncate(SPARSE_SIZE)
        stream.seek(SPARSE_SIZE // 2)
        stream.write(b"middle")
    setuid = write(root, "usr/share/fixtures/setuid", b"#!/bin/sh\n", mode=0o755)
    os.chmod(setuid, 0o4755)
    os.chmod(os.path.join(base, "acl-dir"), 0o2775)
    sticky = os.path.join(base, "sticky")
    os.mkdir(sticky)
    os.chmod(sticky, 0o1777)
    owned = write(root, "usr/share/fixtures/owned", b"mine\n", mode=0o600)
    os.lchown(owned, 1000, 1001)
    os.lchown(os.path.join(base, "relative-link"), 1000, 1000)
    write(root, "usr/share/fixtures/empty", b"")
    os.utime(data, (1500000000, 1500000000))
    return base


def manifest(root, skip=()):
    """Describe every file under ROOT (relative path -> properties), hard links grouped.

    Paths in SKIP (relative, with everything below them) are left out.
    """
    entries = {}
    inodes = {}
    for directory, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, root)
            if any(rel == s or rel.startswith(s + "/") for s in skip):
                continue
            info = os.lstat(path)
            inodes.setdefault(info.st_ino, []).append(rel)
            entries[rel] = _describe(path, info)
    for group in inodes.values():
        for rel in group:
            if len(group) > 1:
                entries[rel] = entries[rel] + (("links", tuple(sorted(group))),)
    return entries


def _describe(path, info):
    kind = stat.S_IFMT(info.st_mode)
    facts = [("mode", oct(info.st_mode)), ("owner", (info.st_uid, info.st_gid)),
             ("mtime", int(info.st_mtime))]
    if kind == stat.S_IFREG:
        with open(path, "rb") as stream:
            facts.append(("sha256", hashlib.sha256(stream.read()).hexdigest()))
        facts.append(("size", info.st_size))
        facts.append(("holey", info.st_blocks * 512 < info.st_size))
    elif kind == stat.S_IFLNK:
        facts.append(("target", os.readlink(path)))
    elif kind in (stat.S_IFCHR, stat.S_IFBLK):
        facts.append(("rdev", (os.major(info.st_rdev), os.minor(info.st_rdev))))
    if kind != stat.S_IFLNK:
        names = sorted(os.listxattr(path, follow_symlinks=False))
        facts.append(("xattrs", tuple((n, os.getxattr(path, n, follow_symlinks=False))
                                      for n in names)))
    return tuple(facts)


def squash_tree(tree, output):
    """Pack TREE as a squashfs as it is (a "plain tree" image, or a broken one)."""
    subprocess.run(["mksquashfs", str(tree), str(output), "-noappend", "-quiet",
                    "-no-progress", "-comp", "zstd"], check=True, stdout=subprocess.DEVNULL)
    return output


def wrap_ext4(tree, output, tmp_path):
    """Make a rootfs.img image of TREE with plain mke2fs (no NVR added for it)."""
    stage = tmp_path / "wrap-stage"
    (stage / "LiveOS").mkdir(parents=True)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(tree),
                    str(stage / "LiveOS/rootfs.img"), "32M"], check=True)
    return squash_tree(stage, output)
