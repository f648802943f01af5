"""What a root tree says about itself: NVR, os-release, kernels, size.

Works on any directory holding a root filesystem (a mounted image, a build
tree). Symlinks inside the tree are resolved against the tree's own root, as
they would be on the booted node, never against the host's `/`.
"""

import os
import stat
from functools import cmp_to_key

from org_ovirt_node.constants import NVR_PATH_IN_IMAGE
from org_ovirt_node.errors import NodeError
from org_ovirt_node.nvr import NVR, rpmvercmp
from org_ovirt_node.util import grubcfg

OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")
KERNEL_PREFIX = "vmlinuz-"
_MAX_LINKS = 40


def resolve_in_root(root, relpath):
    """Return the host path of RELPATH inside ROOT, following symlinks chrooted.

    Returns None if the path does not exist (or loops). The result never
    leaves ROOT: `..` and absolute link targets stop at ROOT.
    """
    parts = [p for p in relpath.split("/") if p not in ("", ".")]
    done = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = os.path.join(root, *done, part)
        try:
            info = os.lstat(candidate)
        except OSError:
            return None
        if stat.S_ISLNK(info.st_mode):
            links += 1
            if links > _MAX_LINKS:
                return None
            target = os.readlink(candidate)
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        done.append(part)
    return os.path.join(root, *done)


def read_text(root, relpath, limit=65536):
    """Return the text of file RELPATH in ROOT, or None if it is not a file."""
    path = resolve_in_root(root, relpath)
    if path is None or not os.path.isfile(path):
        return None
    with open(path, "rb") as stream:
        return stream.read(limit).decode("utf-8", "replace")


def read_nvr(root, what):
    """Return the NVR recorded in ROOT as a string; NodeError if missing or bad.

    WHAT names the image in messages.
    """
    text = read_text(root, NVR_PATH_IN_IMAGE, limit=4096)
    if text is None:
        raise NodeError(f"{what}: has no NVR (/{NVR_PATH_IN_IMAGE} is missing)")
    try:
        return str(NVR.parse(text.strip()))
    except NodeError as error:
        raise NodeError(f"{what}: bad NVR in /{NVR_PATH_IN_IMAGE}: {error}") from None


def parse_os_release(text):
    """Return the KEY=value pairs of an os-release text as a dict."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        values[key.strip()] = value
    return values


def os_release(root):
    """ROOT's os-release as a dict ({} when it has none)."""
    for relpath in OS_RELEASE_PATHS:
        text = read_text(root, relpath)
        if text is not None:
            return parse_os_release(text)
    return {}


def read_os_release(root):
    """Return (name, version) from ROOT's os-release; None for what is missing."""
    values = os_release(root)
    return values.get("NAME"), values.get("VERSION") or values.get("VERSION_ID")


def grub_platforms(root):
    """The GRUB platforms whose modules ROOT carries (usr/lib/grub/<platform>)."""
    found = []
    for platform in grubcfg.PLATFORMS:
        path = resolve_in_root(root, f"usr/lib/grub/{platform}")
        if path is not None and os.path.isdir(path):
            found.append(platform)
    return found


def find_kernels(root):
    """Return the kernel versions of ROOT's /boot/vmlinuz-<kver>, oldest first."""
    boot = resolve_in_root(root, "boot")
    if boot is None or not os.path.isdir(boot):
        return []
    kernels = []
    for name in os.listdir(boot):
        if not name.startswith(KERNEL_PREFIX) or name.startswith(KERNEL_PREFIX + "0-rescue-"):
            continue
        path = resolve_in_root(root, f"boot/{name}")
        if path and os.path.isfile(path):
            kernels.append(name[len(KERNEL_PREFIX):])
    return sorted(kernels, key=cmp_to_key(rpmvercmp))


def require_kernel(root, what):
    """Return ROOT's kernels; NodeError if there is none."""
    kernels = find_kernels(root)
    if not kernels:
        raise NodeError(f"{what}: has no kernel (no /boot/{KERNEL_PREFIX}<version>)")
    return kernels


def tree_usage(root):
    """Return (apparent bytes, allocated bytes) of the files under ROOT.

    Hard links count once, as they take space once.
    """
    seen = set()
    apparent = allocated = 0
    for info in walk_lstat(root):
        if info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode):
            key = (info.st_dev, info.st_ino)
            if key in seen:
                continue
            seen.add(key)
        if not stat.S_ISDIR(info.st_mode):
            apparent += info.st_size
        allocated += info.st_blocks * 512
    return apparent, allocated


def walk_lstat(root):
    """Yield the lstat of ROOT and of everything below it, never leaving its filesystem."""
    top = os.lstat(root)
    yield top
    stack = [root]
    while stack:
        directory = stack.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                yield info
                if stat.S_ISDIR(info.st_mode) and info.st_dev == top.st_dev:
                    stack.append(entry.path)
