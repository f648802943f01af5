"""Read-only loop mounts of node images and of the rootfs.img inside them.

`mounted_image(path)` is the one way the engine looks into an image: it mounts
the squashfs read-only, says which layout it found, and always unmounts, even
when the body raises. `mounted_rootfs(img)` does the same for an ext4 image
(`noload`, so not even a journal replay writes to it).
"""

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Optional

from org_ovirt_node.constants import ROOTFS_IN_IMAGE
from org_ovirt_node.errors import NodeError
from org_ovirt_node.util import safeio
from org_ovirt_node.image.squashfs import read_superblock
from org_ovirt_node.util.run import run

# What makes the top of a squashfs a root tree rather than arbitrary files.
TREE_MARKERS = ("usr", "etc")


@dataclass
class MountedImage:
    """An image mounted at MOUNTPOINT; exactly one of ROOTFS_IMG and TREE is set."""

    mountpoint: str
    rootfs_img: Optional[str]
    tree: Optional[str]
    source: Optional[str] = None   # the squashfs file mounted

    @property
    def layout(self):
        """"rootfs.img" or "tree", as ImageInfo.layout says."""
        return "rootfs.img" if self.rootfs_img else "tree"


@contextmanager
def loop_mount(source, fstype, options="ro", what=None):
    """Mount file SOURCE read-only on a fresh temporary directory; yield its path."""
    if os.geteuid() != 0:
        raise NodeError(f"{what or source}: reading an image needs root (loop mounts)")
    mountpoint = safeio.make_temp_dir("mnt")  # named for this pid: a killed run's is found
    try:
        result = run(["mount", "-t", fstype, "-o", f"loop,{options}", source, mountpoint],
                     check=False)
        if result.returncode != 0:
            raise NodeError(f"{what or source}: cannot mount the {fstype} "
                            f"(corrupt image?): {_mount_reason(result, mountpoint)}")
        try:
            yield mountpoint
        finally:
            _unmount(mountpoint)
    finally:
        try:
            os.rmdir(mountpoint)
        except OSError:
            pass


def _mount_reason(result, mountpoint):
    """The useful part of mount's complaint: no dmesg hint, no temporary path."""
    lines = [line.strip() for line in (result.stderr or result.stdout or "").splitlines()
             if line.strip() and "dmesg" not in line]
    if not lines:
        return f"exit status {result.returncode}"
    reason = lines[0].replace(f"mount: {mountpoint}: ", "")
    return reason.split(", missing codepage")[0]


def _unmount(mountpoint):
    """Unmount MOUNTPOINT; fall back to a lazy unmount if something holds it."""
    if run(["umount", mountpoint], check=False).returncode != 0:
        run(["umount", "-l", mountpoint], check=False)


@contextmanager
def mounted_image(path):
    """Mount node image PATH read-only; yield a MountedImage.

    Raises NodeError if PATH is not a squashfs, is truncated, or holds neither
    LiveOS/rootfs.img nor a root tree.
    """
    path = os.fspath(path)
    read_superblock(path)
    with loop_mount(path, "squashfs", "ro", what=path) as mountpoint:
        rootfs = os.path.join(mountpoint, ROOTFS_IN_IMAGE)
        if os.path.isfile(rootfs):
            yield MountedImage(mountpoint, rootfs, None, path)
        elif all(os.path.isdir(os.path.join(mountpoint, name)) for name in TREE_MARKERS):
            yield MountedImage(mountpoint, None, mountpoint, path)
        else:
            raise NodeError(f"{path}: holds no {ROOTFS_IN_IMAGE} and is not a root "
                            f"tree either (no /usr and /etc at its top)")


@contextmanager
def mounted_rootfs(rootfs_img, what=None):
    """Mount ext4 image ROOTFS_IMG read-only (no journal replay); yield its path."""
    with loop_mount(rootfs_img, "ext4", "ro,noload", what=what) as mountpoint:
        yield mountpoint


@contextmanager
def mounted_root(path):
    """Mount node image PATH and yield (MountedImage, root tree path), any layout."""
    with mounted_image(path) as image:
        if image.tree:
            yield image, image.tree
        else:
            with mounted_rootfs(image.rootfs_img, what=f"{path}:{ROOTFS_IN_IMAGE}") as root:
                yield image, root
