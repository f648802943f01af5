"""Opening paths a user named, safely: one helper for every command.

Outputs: only a regular file or a new name is ever written. A device node, a
FIFO, a socket, a directory or a symbolic link at the output name (or planted
in an output folder) is refused, never replaced or written through, and so is
anything under /proc, /sys or /dev. A missing, read-only or non-directory
output folder, and a name longer than the filesystem allows, is one clear
error before any work.

Inputs: a FIFO, a character device, a socket or a directory given where a
file is expected is refused at once (opened non-blocking and checked with
fstat, so a FIFO never hangs the run); text inputs are read up to a limit and
decoded strictly, so a huge, endless or non-UTF-8 input is one clear error.

Temporary folders: made with a recognisable prefix that carries the owner's
pid (`ovirt-node-<kind>-<pid>-XXXX`); the next run removes those whose owner
is dead, so a killed run leaves nothing behind for long.

Every refusal is a NodeError: one line, naming the path and what is wrong.
"""

import errno
import functools
import os
import re
import shutil
import stat
import tempfile

from org_ovirt_node.errors import NodeError

TEMP_PREFIX = "ovirt-node-"
_TEMP_NAME = re.compile(r"\.?ovirt-node-[a-z0-9]+-(?P<pid>[0-9]+)-[A-Za-z0-9_]+(?:\.[a-z0-9]+)?")
# Kernel trees no output may ever be written into.
_VIRTUAL_TREES = ("/proc", "/sys", "/dev")
# Default bound for text inputs (kickstarts, inventories, templates, menus).
TEXT_LIMIT = 64 << 20


def _kind(mode):
    """What MODE is, in words."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def _in_virtual_tree(path):
    """The kernel tree PATH lies in (its folder resolved; a link at PATH itself is never
    followed by open_output), or None."""
    head, tail = os.path.split(os.path.abspath(path))
    real = os.path.join(_real_dir(head), tail) if tail else _real_dir(head)
    for tree in _VIRTUAL_TREES:
        if real == tree or real.startswith(tree + "/"):
            return tree
    return None


@functools.lru_cache(maxsize=64)
def _real_dir(directory):
    """realpath of DIRECTORY, cached: a fleet's thousands of outputs share one folder."""
    return os.path.realpath(directory)


@functools.lru_cache(maxsize=64)
def _name_max(directory):
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def check_name_length(path):
    """Refuse a path whose last component or whole length the filesystem cannot hold."""
    name = os.path.basename(os.path.normpath(path))
    absolute = os.path.abspath(path)
    name_max = _name_max(os.path.dirname(absolute) or "/")
    if len(os.fsencode(name)) > name_max:
        raise NodeError(f"{path}: the file name is {len(os.fsencode(name))} bytes long; "
                        f"the filesystem allows at most {name_max}")
    if len(os.fsencode(absolute)) >= 4096:
        raise NodeError(f"{path[:64]}...: the path is longer than the system allows")


def check_output_dir(directory, create=False, what="output directory"):
    """Make sure DIRECTORY can take new files; create it (and parents) if CREATE.

    Returns the directory as given. A symlinked folder the user named is fine
    (they chose it); a folder under /proc, /sys or /dev is not.
    """
    directory = os.fspath(directory) if directory is not None else "."
    if not directory:
        raise NodeError(f"the {what} name is empty")
    _check_writable_name(directory)
    try:
        st = os.stat(directory)
    except FileNotFoundError:
        if not create:
            raise NodeError(f"{directory}: the {what} does not exist") from None
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as error:
            raise NodeError(f"{directory}: cannot create the {what}: "
                            f"{error.strerror}") from None
        st = os.stat(directory)
    except NotADirectoryError:
        raise NodeError(f"{directory}: a part of this path is a file, not a directory") \
            from None
    except OSError as error:
        raise NodeError(f"{directory}: {error.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise NodeError(f"{directory}: the {what} is {_kind(st.st_mode)}, not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise NodeError(f"{directory}: the {what} is not writable")
    return directory


def _check_writable_name(path):
    """Refuse PATH as a place to write by its name alone: NUL, /proc-like trees, length."""
    if "\0" in path:
        raise NodeError(f"{path!r}: a path cannot hold a NUL character")
    tree = _in_virtual_tree(path)
    if tree:
        raise NodeError(f"{path}: refusing to write under {tree}")
    check_name_length(path)


def check_output_file(path, force=False, what="output"):
    """Refuse an output name that is not a regular file or a new name.

    An existing regular file is refused unless FORCE. Also checks the
    folder it goes into (it must exist and be writable).
    """
    path = os.fspath(path)
    if not path or path.endswith("/"):
        raise NodeError(f"'{path}': the {what} must name a file, not a directory")
    _check_writable_name(path)
    check_output_dir(os.path.dirname(os.path.abspath(path)), what=f"folder of the {what}")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    except OSError as error:
        raise NodeError(f"{path}: {error.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise NodeError(f"{path}: the {what} is {_kind(st.st_mode)}; refusing to replace "
                        "or write through it (only a regular file or a new name)")
    if not force:
        raise NodeError(f"{path}: the {what} exists (use --force to replace it)")
    return path


def open_output(path, binary=False, encoding="utf-8"):
    """Open PATH for writing without following a symlink or opening a device/FIFO.

    The file is created (0644) or truncated only once it is known to be a
    regular file. Errors are NodeError.
    """
    path = os.fspath(path)
    check_name_length(path)
    tree = _in_virtual_tree(path)
    if tree:
        raise NodeError(f"{path}: refusing to write under {tree}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.EMLINK):
            raise NodeError(f"{path}: is a symbolic link; refusing to write through it") \
                from None
        if error.errno == errno.ENXIO:
            raise NodeError(f"{path}: is a FIFO or device; refusing to write to it") from None
        raise NodeError(f"cannot write {path}: {error.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NodeError(f"{path}: is {_kind(st.st_mode)}; refusing to write to it")
        os.set_blocking(fd, True)
        if st.st_size:              # a new file is empty: ftruncate costs a journal entry
            os.ftruncate(fd, 0)
    except BaseException:
        os.close(fd)
        raise
    if binary:
        return os.fdopen(fd, "wb")
    return os.fdopen(fd, "w", encoding=encoding)


def write_text(path, text, encoding="utf-8"):
    """Write TEXT to PATH through open_output; return PATH."""
    try:
        with open_output(path, encoding=encoding) as stream:
            stream.write(text)
    except OSError as error:
        raise NodeError(f"cannot write {path}: {error.strerror}") from None
    return path


def output_path(directory, relative):
    """DIRECTORY/RELATIVE, refusing a RELATIVE that climbs out or passes a symlink.

    Intermediate folders are created; a symlink planted in place of one (or
    of the file) is refused, so nothing is written outside DIRECTORY.
    """
    directory = os.fspath(directory)
    parts = [part for part in relative.split("/") if part]
    if not parts or any(part in (".", "..") for part in parts):
        raise NodeError(f"{relative}: not a plain relative output name")
    current = directory
    for part in parts[:-1]:
        current = os.path.join(current, part)
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            try:
                os.mkdir(current)
            except OSError as error:
                raise NodeError(f"cannot create {current}: {error.strerror}") from None
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise NodeError(f"{current}: is {_kind(st.st_mode)}, not a directory; "
                            "refusing to write through it")
    path = os.path.join(current, parts[-1])
    check_name_length(path)
    return path


def check_replaceable(path):
    """Refuse to replace PATH unless it is absent or a regular file (not a link, device ...)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    if not stat.S_ISREG(st.st_mode):
        raise NodeError(f"{path}: is {_kind(st.st_mode)}; refusing to replace it")
    return path


def write_in(directory, relative, text):
    """Write TEXT to DIRECTORY/RELATIVE safely (see output_path); return the path."""
    return write_text(output_path(directory, relative), text)


# ---------------------------------------------------------------- inputs

def check_input_file(path, what="file", allow_block=False):
    """Refuse a missing path, a directory, FIFO, socket or device given as a file."""
    path = os.fspath(path)
    if "\0" in path:
        raise NodeError(f"{path!r}: a path cannot hold a NUL character")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise NodeError(f"{path}: no such file") from None
    except OSError as error:
        raise NodeError(f"{path}: cannot read the {what}: {error.strerror}") from None
    if stat.S_ISREG(st.st_mode) or (allow_block and stat.S_ISBLK(st.st_mode)):
        return st
    raise NodeError(f"{path}: the {what} is {_kind(st.st_mode)}, not a regular file")


def open_input(path, what="file", binary=True, allow_block=False):
    """Open PATH for reading; refuse (without blocking) anything but a regular file."""
    path = os.fspath(path)
    check_input_file(path, what, allow_block)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise NodeError(f"{path}: cannot read the {what}: {error.strerror}") from None
    st = os.fstat(fd)
    if not (stat.S_ISREG(st.st_mode) or (allow_block and stat.S_ISBLK(st.st_mode))):
        os.close(fd)
        raise NodeError(f"{path}: the {what} is {_kind(st.st_mode)}, not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb") if binary else fd


def read_bytes(path, what="file", limit=TEXT_LIMIT):
    """The bytes of PATH, refusing more than LIMIT (never reading past it)."""
    with open_input(path, what) as stream:
        if os.fstat(stream.fileno()).st_size > limit:
            raise NodeError(f"{path}: the {what} is larger than {limit >> 20} MiB; "
                            "refusing to read it whole")
        try:
            data = stream.read(limit + 1)
        except OSError as error:
            raise NodeError(f"{path}: cannot read the {what}: {error.strerror}") from None
    if len(data) > limit:
        raise NodeError(f"{path}: the {what} is larger than {limit >> 20} MiB; "
                        "refusing to read it whole")
    return data


def decode_text(data, path, what="file"):
    """DATA decoded as UTF-8, or one NodeError naming the line of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise NodeError(f"the {what} is not UTF-8 text (byte 0x{data[error.start]:02x})",
                        where=f"{path}:{line}") from None


def read_text(path, what="file", limit=TEXT_LIMIT):
    """The UTF-8 text of PATH: bounded, strict, refusing FIFOs, devices, folders."""
    return decode_text(read_bytes(path, what, limit), path, what)


def display(path):
    """PATH printable on one line (undecodable bytes and control characters escaped)."""
    text = os.fsdecode(path) if isinstance(path, bytes) else str(path)
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def _surrogates(text):
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def check_path_text(path, what="path"):
    """Refuse a path that is not valid UTF-8 or holds control characters."""
    text = os.fspath(path)
    if _surrogates(text) or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise NodeError(f"{display(text)}: the {what} holds bytes that are not UTF-8 text "
                        "or control characters")
    return text


# ---------------------------------------------------------------- temporary folders

def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _has_mount_below(path):
    real = os.path.realpath(path)
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) > 1:
                    target = fields[1].encode().decode("unicode_escape")
                    if target == real or target.startswith(real + "/"):
                        return True
    except OSError:
        return True
    return False


def clean_stale(directory=None):
    """Remove temporary folders of dead runs in DIRECTORY (default: the temp dir).

    Returns (removed, left): folders removed, and ones a dead run left that
    cannot be removed now (a mount still on them), named so a person can.
    """
    directory = directory or tempfile.gettempdir()
    removed, left = [], []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed, left
    for name in names:
        match = _TEMP_NAME.fullmatch(name)
        if not match or int(match.group("pid")) == os.getpid() \
                or _pid_alive(int(match.group("pid"))):
            continue
        path = os.path.join(directory, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if st.st_uid != os.geteuid():
            continue
        if stat.S_ISREG(st.st_mode):
            os.unlink(path)
            removed.append(path)
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        if _has_mount_below(path):
            left.append(path)
            continue
        shutil.rmtree(path, ignore_errors=True)
        (left if os.path.lexists(path) else removed).append(path)
    return removed, left


def make_temp_dir(kind, directory=None, hidden=False):
    """A new temporary folder named for its owner: [.]ovirt-node-KIND-PID-XXXX.

    Stale ones of dead runs in the same place are removed first.
    """
    if not re.fullmatch(r"[a-z0-9]+", kind):
        raise ValueError(f"bad temporary folder kind {kind!r}")
    clean_stale(directory)
    prefix = f"{'.' if hidden else ''}{TEMP_PREFIX}{kind}-{os.getpid()}-"
    try:
        return tempfile.mkdtemp(prefix=prefix, dir=directory)
    except OSError as error:
        raise NodeError(f"cannot make a temporary folder in "
                        f"{directory or tempfile.gettempdir()}: {error.strerror}") from None


def make_temp_file(kind, directory, suffix=""):
    """A new empty file [.]ovirt-node-KIND-PID-XXXX.SUFFIX in DIRECTORY (a partial output).

    Stale ones of dead runs there are removed first. Returns its path.
    """
    clean_stale(directory)
    try:
        fd, path = tempfile.mkstemp(prefix=f".{TEMP_PREFIX}{kind}-{os.getpid()}-",
                                    suffix=suffix, dir=directory)
    except OSError as error:
        raise NodeError(f"cannot write in {directory}: {error.strerror}") from None
    os.close(fd)
    return path


class TempDir:
    """Context manager: make_temp_dir, removed on exit whatever happens."""

    def __init__(self, kind, directory=None, hidden=False):
        self.kind, self.directory, self.hidden = kind, directory, hidden
        self.path = None

    def __enter__(self):
        self.path = make_temp_dir(self.kind, self.directory, self.hidden)
        return self.path

    def __exit__(self, *exc):
        if self.path and not _has_mount_below(self.path):
            shutil.rmtree(self.path, ignore_errors=True)
        return False
