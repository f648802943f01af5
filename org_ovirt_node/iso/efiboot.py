"""Editing files inside the FAT image UEFI boots from (images/efiboot.img).

On a CD and on a USB stick, UEFI firmware starts GRUB from this FAT image and
GRUB reads the grub.cfg next to itself, so a remaster that leaves this copy
alone boots UEFI machines with the old arguments or the old label (lorax's
mkksiso rebuilds the whole image as root for this). mtools edits it in place
as an ordinary file: no root, no loop device, the rest of the image untouched.
"""

import os
import re
import tempfile

from org_ovirt_node.errors import NodeError
from org_ovirt_node.util.run import run

# grub.cfg beside the EFI binaries; BOOT.conf is the copy for 32-bit firmware.
MENU_NAMES = ("grub.cfg", "BOOT.conf")

_ENV = {"MTOOLS_SKIP_CHECK": "1", "LC_ALL": "C"}


def list_files(image):
    """Every file path inside the FAT IMAGE, as 'EFI/BOOT/grub.cfg'."""
    listing = run(["mdir", "-/", "-b", "-i", image, "::/"], env=_ENV).stdout
    return [line[3:] for line in listing.splitlines()
            if line.startswith("::/") and not line.endswith("/")]


def menus(image):
    """The GRUB menus inside IMAGE that a remaster must rewrite."""
    return [path for path in list_files(image) if os.path.basename(path) in MENU_NAMES]


def read_file(image, path):
    """The text of PATH inside IMAGE."""
    return run(["mtype", "-i", image, f"::/{path}"], env=_ENV).stdout


def _geometry(image):
    """(cluster size, free bytes) of the FAT in IMAGE."""
    info = run(["minfo", "-i", image, "::"], env=_ENV).stdout
    sector = int(re.search(r"sector size: (\d+)", info).group(1))
    cluster = int(re.search(r"cluster size: (\d+)", info).group(1)) * sector
    listing = run(["mdir", "-i", image, "::/"], env=_ENV).stdout
    free = int(re.search(r"([\d ]+) bytes free", listing).group(1).replace(" ", ""))
    return cluster, free


def write_file(image, path, text, old_size, mtime=None):
    """Replace PATH inside IMAGE with TEXT, refusing if the FAT has no room.

    OLD_SIZE is the size of the file being replaced (its clusters are freed).
    MTIME, when given, becomes the file's time in the FAT so reproducible
    builds stay byte-identical.
    """
    data = text.encode()
    cluster, free = _geometry(image)
    clusters = lambda size: -(-size // cluster)  # noqa: E731 - ceiling division
    if clusters(len(data)) - clusters(old_size) > free // cluster:
        raise NodeError(f"images/efiboot.img has {free} bytes free, too few for the "
                        f"rewritten {path} ({len(data)} bytes)")
    with tempfile.NamedTemporaryFile("wb", delete=False) as tmp:
        tmp.write(data)
    try:
        cmd = ["mcopy", "-o", "-i", image, tmp.name, f"::/{path}"]
        if mtime is not None:
            os.utime(tmp.name, (mtime, mtime))
            cmd.insert(1, "-m")
        run(cmd, env=_ENV)
    finally:
        os.unlink(tmp.name)
