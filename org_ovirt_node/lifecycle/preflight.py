"""Read-only checks an update passes before it writes anything.

imgbased starts writing and finds out late (or never) that the pool, the VG
or /boot is too small. Here every check runs first and a refusal carries the
numbers: what is needed, what there is.
"""

import math
import os
from dataclasses import dataclass

from org_ovirt_node import constants
from org_ovirt_node.errors import NodeError
from org_ovirt_node.install import bootconfig
from org_ovirt_node.nvr import NVR, rpmvercmp
from org_ovirt_node.sizes import MiB, format_size
from org_ovirt_node.util import lvm

POOL_MARGIN = 0.10            # of the pool's size, kept free after the new base
METADATA_BYTES_PER_CHUNK = 128  # generous: dm-thin btree entries plus their nodes
AUTOEXTEND_THRESHOLD = constants.THIN_PROFILE["thin_pool_autoextend_threshold"] / 100
AUTOEXTEND_PERCENT = constants.THIN_PROFILE["thin_pool_autoextend_percent"]
BOOT_SLACK = 16 * MiB


@dataclass
class Space:
    """The node's free space as LVM and statvfs report it, in bytes."""

    pool: str
    pool_size: int
    pool_used: int
    chunk_size: int
    metadata_size: int
    metadata_used: int
    vg_free: int
    boot_free: int


def measure(node):
    """Space facts of NODE now."""
    [row] = lvm.report("lvs", ["lv_size", "data_percent", "lv_metadata_size",
                               "metadata_percent", "chunk_size"], f"{node.vg}/{node.pool}")
    [vg] = lvm.report("vgs", ["vg_free"], node.vg)
    pool_size = int(row["lv_size"])
    metadata_size = int(row["lv_metadata_size"] or 0)
    stat = os.statvfs(node.boot)
    return Space(pool=node.pool, pool_size=pool_size,
                 pool_used=int(pool_size * float(row["data_percent"] or 0) / 100),
                 chunk_size=int(row["chunk_size"] or 65536),
                 metadata_size=metadata_size,
                 metadata_used=int(metadata_size * float(row["metadata_percent"] or 0) / 100),
                 vg_free=int(vg["vg_free"]), boot_free=stat.f_bavail * stat.f_frsize)


def autoextend_step(pool_size, extent_size=1):
    """Bytes one autoextend of a pool of POOL_SIZE takes from its VG.

    LVM's profile extends by thin_pool_autoextend_percent of the pool's
    current data size, rounded up to whole extents of EXTENT_SIZE."""
    extents = math.ceil(pool_size * AUTOEXTEND_PERCENT / 100 / max(extent_size, 1))
    return extents * max(extent_size, 1)


def space_problems(space, new_data, kernel_bytes):
    """Why SPACE cannot take a new base of NEW_DATA bytes and KERNEL_BYTES on /boot."""
    problems = []
    margin = int(space.pool_size * POOL_MARGIN)
    pool_free = space.pool_size - space.pool_used
    if new_data + margin > pool_free:
        problems.append(f"thin pool {space.pool} has {format_size(pool_free)} free; the new "
                        f"base needs {format_size(new_data)} plus a margin of "
                        f"{format_size(margin)} (10% of the pool)")
    chunks = -(-new_data // max(space.chunk_size, 1))
    metadata_need = chunks * METADATA_BYTES_PER_CHUNK + int(space.metadata_size * POOL_MARGIN)
    metadata_free = space.metadata_size - space.metadata_used
    if metadata_need > metadata_free:
        problems.append(f"thin pool {space.pool} metadata has {format_size(metadata_free)} "
                        f"free; the new base needs about {format_size(metadata_need)}")
    if (space.pool_used + new_data) > space.pool_size * AUTOEXTEND_THRESHOLD:
        grow = autoextend_step(space.pool_size)
        if space.vg_free < grow:
            problems.append(f"the new base takes thin pool {space.pool} past its 70% "
                            f"autoextend threshold, which needs {format_size(grow)} of "
                            f"volume group space; it has {format_size(space.vg_free)} free")
    if kernel_bytes + BOOT_SLACK > space.boot_free:
        problems.append(f"/boot has {format_size(space.boot_free)} free; the new kernels "
                        f"need {format_size(kernel_bytes + BOOT_SLACK)}")
    return problems


def kernel_bytes(boot_dir):
    """Bytes the kernels and initrds in BOOT_DIR (an image's /boot) take."""
    return sum(os.path.getsize(path) for _, kernel, initrd in bootconfig.find_kernels(boot_dir)
               for path in (kernel, initrd))


def identity_problems(current_os, new_os, allow_other_os):
    """Why an image of NEW_OS (os-release dict) does not fit a node of CURRENT_OS."""
    if allow_other_os:
        return []
    cur_id, new_id = current_os.get("ID"), new_os.get("ID")
    cur_major = (current_os.get("VERSION_ID") or "").split(".")[0]
    new_major = (new_os.get("VERSION_ID") or "").split(".")[0]
    if cur_id != new_id or cur_major != new_major:
        return [f"the image is {new_id or '?'} {new_major or '?'}, the node runs "
                f"{cur_id or '?'} {cur_major or '?'}; pass --allow-other-os to switch"]
    return []


def version_problems(new_nvr, bases, allow_downgrade):
    """Why NEW_NVR is not newer than every base (version-release, like rpm)."""
    if allow_downgrade:
        return []
    new = NVR.parse(new_nvr)
    newer = []
    for base in bases:
        try:
            old = NVR.parse(base)
        except NodeError:
            continue
        if (rpmvercmp(new.version, old.version) or rpmvercmp(new.release, old.release)) <= 0:
            newer.append(base)
    if newer:
        return [f"{new_nvr} is not newer than {', '.join(newer)}; pass --allow-downgrade "
                "to install it anyway"]
    return []
