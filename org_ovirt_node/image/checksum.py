"""The `IMAGE.sha256` file beside an image, in `sha256sum` format.

`sha256sum -c IMAGE.sha256` works on it, and Anaconda's `liveimg --checksum`
takes the same hex digest, so one file serves people and kickstarts.
"""

import os
import re
import subprocess
import sys

from org_ovirt_node.errors import NodeError
from org_ovirt_node.util import safeio, textcheck

CHUNK = 4 << 20
# Below this size CPython's own SHA-256 costs under 0.1 s and spares the
# process OpenSSL's libcrypto (about 3.5 MiB); a larger file is hashed by
# OpenSSL's (SHA-NI, about 5x faster) in a small child process, so neither
# libcrypto nor the read buffers add to this process's memory.
SMALL_FILE = 32 << 20
WINDOW = 1 << 20        # the child's one read buffer; it reports progress after each


def _sha256():
    try:
        from _sha256 import sha256      # the same sums as hashlib's
    except ImportError:                 # a CPython built without it
        from hashlib import sha256
    return sha256()


_LINE = re.compile(r"^([0-9a-fA-F]{64})\s+\*?(.+)$")


def checksum_path(image):
    """Where the checksum of IMAGE lives: IMAGE.sha256."""
    return f"{image}.sha256"


def sha256_file(path, reporter=None, step="checksum"):
    """Return the hex SHA-256 of PATH, reporting bytes done to REPORTER."""
    done = 0
    with safeio.open_input(path, "image") as stream:
        total = os.fstat(stream.fileno()).st_size
        if total >= SMALL_FILE:
            return _sha256_in_child(stream.fileno(), total, reporter, step)
        digest = _sha256()
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            done += len(chunk)
            if reporter:
                reporter.progress(step, done, total)
    if reporter and total == 0:
        reporter.progress(step, 0, 0)
    return digest.hexdigest()


def _sha256_in_child(fd, total, reporter, step):
    """sha256_file's work for a large file, done by a child with OpenSSL's SHA-256."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from org_ovirt_node.image.checksum import _hash_fd; _hash_fd(int(sys.argv[2]))")
    process = subprocess.Popen([sys.executable, "-S", "-c", code, root, str(fd)],
                               pass_fds=(fd,), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    try:
        while True:
            kind = process.stdout.read(1)
            if kind == b"P":
                done = int.from_bytes(process.stdout.read(8), "big")
                if reporter:
                    reporter.progress(step, done, total)
            elif kind == b"D":
                digest = process.stdout.read(32)
                if process.wait() == 0 and len(digest) == 32:
                    return digest.hex()
                break
            else:
                break
        process.wait()
        raise NodeError(f"the SHA-256 could not be taken (exit status {process.returncode})")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def _hash_fd(fd):
    """The child of _sha256_in_child: P<8-byte count> after each read, D<digest> at the end."""
    import hashlib
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # the parent decides; it kills us
    digest, buffer, done = hashlib.sha256(), bytearray(WINDOW), 0
    out = sys.stdout.buffer
    with memoryview(buffer) as whole:
        while True:
            count = os.preadv(fd, [whole], done)
            if not count:
                break
            with whole[:count] as stretch:
                digest.update(stretch)
            done += count
            out.write(b"P" + done.to_bytes(8, "big"))
            out.flush()
    out.write(b"D" + digest.digest())
    out.flush()


def write_checksum(image, hexdigest):
    """Write IMAGE.sha256 as `sha256sum` does: "HEX  basename"."""
    path = checksum_path(image)
    name = os.path.basename(image)
    if textcheck.has_control(name):
        raise NodeError(f"{safeio.display(name)}: an image name with a line break cannot "
                        "be recorded in a .sha256 file")
    return safeio.write_text(path, f"{hexdigest}  {name}\n")


def read_checksum(image):
    """Return the hex digest recorded in IMAGE.sha256, or None if there is none.

    A file that is there but does not hold a digest for IMAGE is an error:
    silently ignoring it would hide a mix-up of images.
    """
    path = checksum_path(image)
    if not os.path.lexists(path):
        return None
    text = safeio.read_bytes(path, "checksum file", limit=1 << 20).decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    name = os.path.basename(image)
    for line in lines:
        match = _LINE.fullmatch(line)
        if match and os.path.basename(match.group(2)) == name:
            return match.group(1).lower()
    raise NodeError(f"{path} holds no SHA-256 line for '{name}' "
                    "(expected 'HEX  NAME' as sha256sum writes it)")
