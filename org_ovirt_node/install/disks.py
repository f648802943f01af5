"""Checks on the target disks before anything is written.

A disk must be a whole, unused block device. One that holds a partition
table, a filesystem or an LVM signature is only touched with --wipe; one that
is mounted or otherwise in use is never touched. These checks only read.
"""

import json
import os
import stat

from org_ovirt_node.errors import NodeError
from org_ovirt_node.sizes import format_size
from org_ovirt_node.util.run import run


def _lsblk(path):
    result = run(["lsblk", "--json", "--bytes", "--output",
                  "NAME,PATH,TYPE,SIZE,FSTYPE,MOUNTPOINT,PTTYPE", path])
    return json.loads(result.stdout)["blockdevices"][0]


def _signatures(path):
    """Signatures wipefs sees on PATH (partition tables, filesystems, PVs)."""
    result = run(["wipefs", "--no-act", "--json", path], check=False)
    if result.returncode != 0 or not result.stdout.strip():
        return []
    return json.loads(result.stdout).get("signatures", [])


def _walk(node):
    yield node
    for child in node.get("children", []) or []:
        yield from _walk(child)


def describe_contents(path):
    """What PATH holds, as short phrases; an empty list means blank."""
    found = []
    for kind in dict.fromkeys(sig.get("type") for sig in _signatures(path)):
        if kind in ("gpt", "dos"):
            found.append(f"a {kind} partition table")
        elif kind and kind != "PMBR":
            found.append(f"a {kind} signature")
    for node in list(_walk(_lsblk(path)))[1:]:
        found.append(f"partition {node['name']}" +
                     (f" ({node['fstype']})" if node.get("fstype") else ""))
    return found


def check_disk(path, wipe):
    """Return the size of disk PATH in bytes after checking it may be used.

    Raises NodeError when PATH is not a whole block device, is in use, or holds
    data and WIPE is false.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise NodeError(f"disk {path} does not exist") from None
    if not stat.S_ISBLK(mode):
        raise NodeError(f"{path} is not a block device")
    tree = _lsblk(path)
    if tree.get("type") not in ("disk", "loop"):
        raise NodeError(f"{path} is a {tree.get('type')}, not a whole disk")
    in_use = [f"{node['name']} mounted on {node['mountpoint']}" for node in _walk(tree)
              if node.get("mountpoint")]
    holders = os.listdir(f"/sys/class/block/{os.path.basename(os.path.realpath(path))}/holders")
    if in_use or (holders and not wipe):
        what = ", ".join(in_use) or f"held by {', '.join(holders)}"
        raise NodeError(f"disk {path} is in use ({what}); unmount or deactivate it first")
    contents = describe_contents(path)
    if contents and not wipe:
        raise NodeError(f"disk {path} is not blank: it holds {', '.join(contents)}; "
                        "pass --wipe to erase it")
    return int(tree["size"])


def size_text(path_sizes):
    """'/dev/vda (32 GiB), /dev/vdb (8 GiB)' for messages."""
    return ", ".join(f"{path} ({format_size(size)})" for path, size in path_sizes.items())
