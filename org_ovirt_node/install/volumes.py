"""Move the layer's content for each separate volume onto that volume.

After this step /var, /var/log, ... live on their own thin LVs and the layer
keeps only the empty mount point directories (with their owner and mode).
Nested volumes are handled by excluding a child's content from its parent.
"""

import os

from org_ovirt_node import constants
from org_ovirt_node.util.mounts import mounted
from org_ovirt_node.util.run import run


def nested_children(mount_point, all_mount_points):
    """Mount points strictly below MOUNT_POINT, relative to it."""
    prefix = mount_point.rstrip("/") + "/"
    return sorted(other[len(prefix):] for other in all_mount_points if other.startswith(prefix))


def seed_volume(root, mount_point, device, all_mount_points, empty_source=True):
    """Copy ROOT<mount_point> onto DEVICE (a fresh filesystem), then empty the source.

    With EMPTY_SOURCE false the source stays until clear_source() is called,
    so a caller that can still fail keeps a state it can undo.
    """
    source = os.path.join(root, mount_point.lstrip("/"))
    os.makedirs(source, exist_ok=True)
    excludes = [f"--exclude=/{child}/*" for child in nested_children(mount_point,
                                                                      all_mount_points)]
    with mounted(device) as target:
        run(["rsync", "-aHAXS", "--numeric-ids", *excludes, f"{source}/", f"{target}/"])
    if empty_source:
        clear_source(root, mount_point, all_mount_points)


def clear_source(root, mount_point, all_mount_points):
    """Empty ROOT<mount_point> after its content moved to its own volume.

    The directories of nested mount points stay, with what they hold: they
    are moved (or kept) by their own volumes.
    """
    source = os.path.join(root, mount_point.lstrip("/"))
    keep = {os.path.join(source, child) for child in nested_children(mount_point,
                                                                      all_mount_points)}
    _empty_directory(source, keep)


def _empty_directory(path, keep):
    """Remove PATH's content except the absolute paths in KEEP, which stay whole."""
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if full in keep:
            continue
        inner = {item for item in keep if item.startswith(full + "/")}
        if inner and os.path.isdir(full) and not os.path.islink(full):
            _empty_directory(full, inner)
        elif os.path.isdir(full) and not os.path.islink(full):
            run(["rm", "-rf", "--one-file-system", full])
        else:
            os.unlink(full)


def mark_skip_volumes(root):
    """Tell imgbased that ROOT's node has fewer separate volumes than the NIST set."""
    marker = os.path.join(root, constants.SKIP_VOLUMES_MARKER)
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    with open(marker, "w", encoding="ascii") as handle:
        handle.write("")
