"""Replace a small file so a crash leaves either the old or the new version.

grubenv, the node state and the update journal are the node's commit points:
each is written to a temporary file beside it, flushed, and renamed over the
old one, then the directory is flushed so the rename itself is durable.
A planted symlink or a device at PATH is replaced, never written through.
"""

import os


def write_atomic(path, data, mode=0o644):
    """Make PATH hold DATA (bytes), atomically and durably."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    partial = os.path.join(directory, f".{os.path.basename(path)}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, path)
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_durably(path):
    """Remove PATH if it exists and flush its directory; True if it was there."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    dir_fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True
