"""Temporary mounts that are always undone, even when the work inside fails.

On a running node the device asked for may already be mounted: the running
layer on /, its volumes on /var and below. The kernel refuses a second mount
of a mounted ext4 with another read-only flag, and must not see one with other
options, so such a device is bind-mounted from where it is (only that file
system, none of the mounts below it), read-only when asked.
"""

import contextlib
import os
import stat

from org_ovirt_node.util import safeio
from org_ovirt_node.util.run import run


@contextlib.contextmanager
def mounted(device, options=None, fstype=None, prefix="ovirt-node-"):
    """Mount DEVICE on a fresh temporary directory and yield the directory."""
    kind = "".join(ch for ch in prefix.lower().replace("ovirt-node-", "") if ch.isalnum())
    directory = safeio.make_temp_dir(kind or "mnt")
    try:
        with mounted_at(device, directory, options, fstype):
            yield directory
    finally:
        os.rmdir(directory)


@contextlib.contextmanager
def mounted_at(source, target, options=None, fstype=None):
    """Mount SOURCE on the existing directory TARGET for the duration of the block."""
    mount(source, target, options, fstype)
    try:
        yield target
    finally:
        run(["umount", target])


def mount(source, target, options=None, fstype=None):
    """Mount SOURCE on TARGET; a block device mounted already is bind-mounted from there."""
    live = live_mount_point(source)
    if live is not None:
        run(["mount", "--bind", live, target])
        if "ro" in (options or "").split(","):
            run(["mount", "-o", "remount,bind,ro", target])
        return
    cmd = ["mount"]
    if fstype:
        cmd += ["-t", fstype]
    if options:
        cmd += ["-o", options]
    run(cmd + [source, target])


def _unescape(field):
    r"""mountinfo's octal escapes (\040 for a space) undone."""
    out, index = [], 0
    while index < len(field):
        if field[index] == "\\" and field[index + 1:index + 4].isdigit():
            out.append(chr(int(field[index + 1:index + 4], 8)))
            index += 4
        else:
            out.append(field[index])
            index += 1
    return "".join(out)


def live_mount_point(source, mountinfo="/proc/self/mountinfo"):
    """Where the block device SOURCE is mounted whole in this namespace, or None."""
    try:
        info = os.stat(source)
    except OSError:
        return None
    if not stat.S_ISBLK(info.st_mode):
        return None
    device = f"{os.major(info.st_rdev)}:{os.minor(info.st_rdev)}"
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 4 and fields[2] == device and fields[3] == "/":
            return _unescape(fields[4])
    return None
