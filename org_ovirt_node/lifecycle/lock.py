"""One writer at a time: an exclusive lock the lifecycle commands that write take first.

Two of `update`, `rollback`, `gc`, `pin`, `boot-ok`, `finalize`, `redboot`
running at once could interleave their grubenv, state and LV changes (an
update's switch between a gc's plan and its removal, say). Each takes a
non-blocking flock on RUN_DIR/lifecycle.lock before it opens the node, so
the second one is refused at once instead of waiting behind a long update;
the holder writes its command name and pid into the file so the refusal can
name it. The kernel drops the lock when the holder dies: a killed run never
leaves the node locked. /run is a tmpfs, so nothing survives a reboot.
"""

import fcntl
import os

from org_ovirt_node.errors import NodeError

RUN_DIR = "/run/ovirt-node"
LOCK_FILE = "lifecycle.lock"


def run_dir(root="/"):
    """The node's runtime directory under ROOT, created private (0700) if absent."""
    path = os.path.join(root, RUN_DIR.lstrip("/"))
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


class Lock:
    """A held lifecycle lock; release() (or the process's end) frees it."""

    def __init__(self, fd):
        self.fd = fd

    def release(self):
        """Empty the holder line and unlock."""
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)
        finally:
            os.close(self.fd)       # closing the only descriptor unlocks
            self.fd = None


def acquire(command, root="/"):
    """Lock for COMMAND (its name, for the refusal of another); raise NodeError when held."""
    path = os.path.join(run_dir(root), LOCK_FILE)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise NodeError(f"cannot open the lifecycle lock {path}: "
                        f"{error.strerror or error}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise NodeError(f"another ovirt-node command is running ({holder}); try again when "
                        "it has finished") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{command} {os.getpid()}\n".encode("utf-8", "replace"), 0)
    return Lock(fd)


def _holder(fd):
    """'COMMAND, pid PID' as the holder wrote it, or what is known of it."""
    words = os.pread(fd, 256, 0).decode("utf-8", "replace").split()
    if len(words) == 2 and words[1].isdigit():
        return f"{words[0]}, pid {words[1]}"
    return "its name and pid not written yet"
