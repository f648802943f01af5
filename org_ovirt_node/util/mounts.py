"""Temporary mounts that are always undone, even when the work inside fails."""

import contextlib
import os
import tempfile

from org_ovirt_node.util.run import run


@contextlib.contextmanager
def mounted(device, options=None, fstype=None, prefix="ovirt-node-"):
    """Mount DEVICE on a fresh temporary directory and yield the directory."""
    directory = tempfile.mkdtemp(prefix=prefix)
    cmd = ["mount"]
    if fstype:
        cmd += ["-t", fstype]
    if options:
        cmd += ["-o", options]
    try:
        run(cmd + [device, directory])
        try:
            yield directory
        finally:
            run(["umount", directory])
    finally:
        os.rmdir(directory)
