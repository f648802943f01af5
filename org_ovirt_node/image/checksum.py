"""The `IMAGE.sha256` file beside an image, in `sha256sum` format.

`sha256sum -c IMAGE.sha256` works on it, and Anaconda's `liveimg --checksum`
takes the same hex digest, so one file serves people and kickstarts.
"""

import os
import re

from org_ovirt_node.errors import NodeError
from org_ovirt_node.util import safeio, textcheck

CHUNK = 4 << 20
# Below this size CPython's own SHA-256 costs under 0.1 s and spares the
# process OpenSSL's libcrypto (about 3.5 MiB); above it OpenSSL's (SHA-NI)
# is about 5x faster, which matters more.
SMALL_FILE = 32 << 20


def _sha256(size):
    if size < SMALL_FILE:
        try:
            from _sha256 import sha256      # the same sums as hashlib's
        except ImportError:                 # a CPython built without it
            from hashlib import sha256
    else:
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
        digest = _sha256(total)
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
