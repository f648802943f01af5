"""One builder at a time for what the tests build once and share.

Why: `make check` runs two pytest workers. Two tests in different workers may
ask at once for the same node image, demo image, .deb or package tree; each
builder checks its cache and builds in place, so without a lock the second
would rebuild (or delete) what the first is making or reading. The same lock
keeps to one virtme-ng VM at a time (vm.run_in_vm). The lock is an
flock on a file under out/.locks: it goes with the process that holds it, so
a killed run never leaves one behind.
"""

import contextlib
import fcntl
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCKS = os.path.join(REPO, "out", ".locks")


@contextlib.contextmanager
def build_lock(name):
    """Hold the lock NAME for the with-block (waits for whoever has it)."""
    os.makedirs(LOCKS, exist_ok=True)
    with open(os.path.join(LOCKS, f"{name}.lock"), "w", encoding="ascii") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
