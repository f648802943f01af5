"""Temporary mounts that are always undone, even when the work inside fails."""

import contextlib
import os
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
    cmd = ["mount"]
    if fstype:
        cmd += ["-t", fstype]
    if options:
        cmd += ["-o", options]
    run(cmd + [source, target])
    try:
        yield target
    finally:
        run(["umount", target])
