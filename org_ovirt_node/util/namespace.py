"""A private mount namespace for commands that mount node volumes.

If a command that mounted LVs is killed, its mounts would stay behind and keep
the LVs busy, so the re-run could not remove or reuse them. In a namespace of
its own, the kernel drops every mount when the last process in it dies.
"""

import ctypes
import ctypes.util

from org_ovirt_node.errors import NodeError
from org_ovirt_node.util.run import run

_CLONE_NEWNS = 0x00020000


def private_mounts():
    """Move this process into a new mount namespace that does not propagate back."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.unshare(_CLONE_NEWNS) != 0:
        errno = ctypes.get_errno()
        raise NodeError(f"cannot make a private mount namespace (errno {errno}); run as root")
    run(["mount", "--make-rprivate", "/"])
