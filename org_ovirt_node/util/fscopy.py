"""Copying single filesystem entries with everything that makes them what they are.

An update moves files between a node's live trees (/etc, /var) and a new
image's. A copy that drops an owner, an ACL or a security.capability quietly
breaks a service, and a copy that follows a symlink planted in the
destination writes outside of it. So every write here goes through a
directory file descriptor opened component by component with O_NOFOLLOW, only
creates names that do not exist yet, and sets owner, xattrs (ACLs and
security.* included), mode and times from the source, in that order: chown
clears set-id bits and capabilities, so those come after it.
"""

import contextlib
import errno
import os
import shutil
import stat

from org_ovirt_node.errors import NodeError

CHUNK = 1 << 20
"""Bytes read at a time: file contents are streamed, never read whole."""


def split_rel(path):
    """Split relative PATH into (parent, name), refusing '', '.', '..' and absolute paths."""
    parts = path.split("/")
    if path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise NodeError(f"'{path}' is not a plain relative path")
    return "/".join(parts[:-1]), parts[-1]


@contextlib.contextmanager
def open_dir(root, rel=""):
    """Yield a descriptor of directory ROOT/REL, reached without following any symlink below ROOT.

    ROOT itself is trusted (the caller names it); a symlink or non-directory
    on the way to REL raises NodeError instead of being written through.
    """
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in rel.split("/") if rel else []:
            split_rel(part)
            try:
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as error:
                if error.errno not in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                    raise
                raise NodeError(f"{os.path.join(root, rel)}: '{part}' is not a directory "
                                "(a symlink is never written through)") from None
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def open_source(path):
    """Open regular file PATH for reading (buffered), refusing to follow a symlink."""
    return open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")


def read_xattrs(path):
    """All extended attributes of PATH itself (ACLs and security.* included), as a dict."""
    return {name: os.getxattr(path, name, follow_symlinks=False)
            for name in os.listxattr(path, follow_symlinks=False)}


def lstat(path, dir_fd=None):
    """The lstat of PATH (relative to DIR_FD if given), or None when nothing is there."""
    try:
        return os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def copy_entry(src, dir_fd, name):
    """Copy SRC (a directory whole) to NAME in DIR_FD with owner, mode, times and xattrs.

    NAME must not exist: nothing is ever overwritten (FileExistsError).
    """
    info = os.lstat(src)
    if stat.S_ISDIR(info.st_mode):
        _copy_directory(src, dir_fd, name)
    elif stat.S_ISREG(info.st_mode):
        _copy_file(src, dir_fd, name)
    elif stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(src), name, dir_fd=dir_fd)
    else:
        os.mknod(name, info.st_mode, info.st_rdev, dir_fd=dir_fd)
    _set_metadata(info, read_xattrs(src), dir_fd, name)


def copy_metadata(src, dir_fd, name):
    """Give the existing NAME in DIR_FD the owner, xattrs, mode and times of SRC."""
    _set_metadata(os.lstat(src), read_xattrs(src), dir_fd, name)


def remove_entry(dir_fd, name):
    """Remove NAME in DIR_FD if present (a directory whole), never following symlinks."""
    info = lstat(name, dir_fd)
    if info is None:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


def _copy_directory(src, dir_fd, name):
    """Create NAME (private until its metadata is set) and copy SRC's entries into it."""
    os.mkdir(name, 0o700, dir_fd=dir_fd)
    child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
    try:
        for entry in sorted(os.listdir(src)):
            copy_entry(os.path.join(src, entry), child, entry)
    finally:
        os.close(child)


def _copy_file(src, dir_fd, name):
    """Stream SRC's bytes into a new NAME in CHUNK pieces."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    with open_source(src) as reader, \
            open(os.open(name, flags, 0o600, dir_fd=dir_fd), "wb") as writer:
        while chunk := reader.read(CHUNK):
            writer.write(chunk)


def _set_metadata(info, xattrs, dir_fd, name):
    """Owner, then xattrs (exactly XATTRS), then mode, then times of NAME, never following it."""
    os.chown(name, info.st_uid, info.st_gid, dir_fd=dir_fd, follow_symlinks=False)
    _set_xattrs(f"/proc/self/fd/{dir_fd}/{name}", xattrs)
    if not stat.S_ISLNK(info.st_mode):
        _chmod_nofollow(dir_fd, name, stat.S_IMODE(info.st_mode))
    os.utime(name, ns=(info.st_atime_ns, info.st_mtime_ns), dir_fd=dir_fd,
             follow_symlinks=False)


def _set_xattrs(path, xattrs):
    """Make PATH's own xattrs exactly XATTRS (inherited default ACLs are removed)."""
    for key in os.listxattr(path, follow_symlinks=False):
        if key not in xattrs:
            os.removexattr(path, key, follow_symlinks=False)
    for key, value in xattrs.items():
        os.setxattr(path, key, value, follow_symlinks=False)


def _chmod_nofollow(dir_fd, name, mode):
    """chmod NAME through an O_PATH descriptor, so a swapped-in symlink is never followed.

    Opening a fifo or device for real could block or act on hardware;
    O_PATH only pins the inode.
    """
    fd = os.open(name, os.O_PATH | os.O_NOFOLLOW, dir_fd=dir_fd)
    try:
        os.chmod(f"/proc/self/fd/{fd}", mode)
    finally:
        os.close(fd)
