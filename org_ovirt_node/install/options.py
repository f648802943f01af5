"""What the user asked for, resolved to concrete names and byte sizes.

The CLI, the kickstart section and the D-Bus module all end up building one
InstallOptions, so defaults (VG `onn`, pool `pool00`, NIST volumes, swap as
Anaconda would size it) are decided in exactly one place.
"""

import os
import posixpath
import stat
from dataclasses import dataclass, field

from org_ovirt_node import constants
from org_ovirt_node.errors import NodeError
from org_ovirt_node.sizes import MAX_SIZE, GiB, MiB

_LVM_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+")
# LVM's rules (lib/misc/lvm-string.c): LV names may not start with these ...
LVM_RESERVED_PREFIXES = ("snapshot", "pvmove")
# ... nor hold these anywhere (the names of its hidden sub-LVs).
LVM_RESERVED_PARTS = ("_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_imeta", "_iorig",
                      "_mimage", "_mlog", "_pmspare", "_rimage", "_rmeta", "_tdata", "_tmeta",
                      "_vdata", "_vorigin", "_wcorig")
# Device-mapper names are "<vg>-<lv>" with every '-' doubled, at most 127 bytes;
# a thin pool's own devices add the longest suffix ("-tpool", "_tmeta").
DM_NAME_MAX = 127
# Swap smaller than this is a typo (a unit missing), not a plan.
MIN_SWAP_SIZE = 16 << 20
_DM_SUFFIX = len("-tpool")


def check_lvm_name(kind, name, lv=None):
    """Raise NodeError unless NAME is a usable LVM VG/LV name.

    LV names (KIND not a volume group, or LV true) also keep LVM's reserved
    prefixes and sub-LV suffixes out.
    """
    if not isinstance(name, str) or not name or name in (".", "..") or name.startswith("-"):
        raise NodeError(f"{kind} name {name!r} is not a valid LVM name "
                        "(empty, '.', '..' or starting with '-')")
    if not set(name) <= _LVM_NAME_CHARS or "+" in name:
        raise NodeError(f"{kind} name {name!r} may only hold letters, digits and ._-")
    if len(name) > 64:
        raise NodeError(f"{kind} name '{name}' is longer than 64 characters")
    if lv if lv is not None else kind != "volume group":
        for prefix in LVM_RESERVED_PREFIXES:
            if name.startswith(prefix):
                raise NodeError(f"{kind} name '{name}' starts with '{prefix}', which LVM "
                                "reserves")
        for part in LVM_RESERVED_PARTS:
            if part in name:
                raise NodeError(f"{kind} name '{name}' holds '{part}', which LVM reserves "
                                "for its hidden sub-volumes")


def dm_name_length(vg, lv):
    """Length of the device-mapper name LVM gives VG/LV ('-' doubled in both)."""
    return len(vg.replace("-", "--")) + 1 + len(lv.replace("-", "--"))


def check_dm_name(vg, lv, kind="logical volume"):
    """Raise NodeError when VG/LV (plus a pool's device suffix) is too long for device-mapper."""
    length = dm_name_length(vg, lv) + _DM_SUFFIX
    if length > DM_NAME_MAX:
        raise NodeError(f"volume group '{vg}' with {kind} '{lv}' makes a device-mapper name "
                        f"of {length} bytes ('-' counts twice); at most {DM_NAME_MAX} fit")


_MOUNT_CHARS = _LVM_NAME_CHARS - {"+"} | {"/"}
# Mount points a separate volume may never take: the root, what the image owns
# (/usr, /etc), /boot (a partition GRUB reads) and the kernel's own trees.
_RESERVED_MOUNTS = ("/boot", "/usr", "/etc", "/proc", "/sys", "/dev", "/run")


def check_volume_mount_point(mount_point):
    """Raise NodeError unless MOUNT_POINT can be a separate volume's mount point."""
    if not isinstance(mount_point, str) or not set(mount_point) <= _MOUNT_CHARS:
        raise NodeError(f"volume mount point {mount_point!r} must be a plain absolute path "
                        "of letters, digits, '._-' and single slashes (no spaces)")
    if (not mount_point.startswith("/") or mount_point == "/" or
            posixpath.normpath(mount_point) != mount_point or "//" in mount_point or
            any(char.isspace() for char in mount_point)):
        raise NodeError(f"volume mount point '{mount_point}' must be a plain absolute path "
                        "below / (no '..', '//', trailing '/' or spaces)")
    if any(mount_point == reserved or mount_point.startswith(reserved + "/")
           for reserved in _RESERVED_MOUNTS):
        raise NodeError(f"volume mount point '{mount_point}' is reserved: a volume cannot be "
                        f"under {', '.join(_RESERVED_MOUNTS)}")
    check_lvm_name("volume LV", constants.volume_lv_name(mount_point), lv=True)


def _dev_clash(vg):
    """True when /dev/VG exists and is not an (active) volume group's folder of links."""
    path = os.path.join("/dev", vg)
    if not os.path.lexists(path):
        return False
    if os.path.islink(path) or not os.path.isdir(path):
        return True
    try:
        entries = os.listdir(path)
    except OSError:
        return True
    return not entries or not all(os.path.islink(os.path.join(path, name)) for name in entries)


def check_distinct_disks(paths):
    """Refuse one disk named twice, through any two paths (symlinks, /dev/disk/by-*)."""
    seen = {}
    for path in paths:
        if not isinstance(path, str) or not path or safeio_bad(path):
            raise NodeError(f"disk {path!r} is not a device path")
        try:
            st = os.stat(path)
            key = ("dev", st.st_rdev) if stat.S_ISBLK(st.st_mode) else ("path", os.path.realpath(path))
        except OSError:
            key = ("path", os.path.realpath(path))
        if key in seen:
            same = "" if seen[key] == path else f" (the same disk as {seen[key]})"
            raise NodeError(f"disk {path} is named twice{same}")
        seen[key] = path


def safeio_bad(path):
    """True when PATH holds a NUL or a control character."""
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in path)


def suggested_swap_size(memory_bytes):
    """Swap size Anaconda suggests for a machine with MEMORY_BYTES of RAM."""
    if memory_bytes < 2 * GiB:
        return 2 * memory_bytes
    if memory_bytes < 8 * GiB:
        return memory_bytes
    if memory_bytes < 64 * GiB:
        return memory_bytes // 2
    return 4 * GiB


def machine_memory():
    """Total RAM of this machine in bytes, from /proc/meminfo."""
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise NodeError("cannot read the memory size from /proc/meminfo")


@dataclass
class InstallOptions:
    """A complete description of one node install, before any disk is touched."""

    disks: list
    vg: str = constants.DEFAULT_VG
    pool: str = constants.DEFAULT_POOL
    profile: str = constants.DEFAULT_PROFILE
    volume_sizes: dict = field(default_factory=dict)   # mount point -> bytes, overrides
    fstype: str = "ext4"
    root_size: int = 0                                 # 0: max(6 GiB, image rootfs size)
    swap_size: int = -1                                # -1: as Anaconda suggests; 0: none
    keep: int = constants.DEFAULT_KEEP                 # images gc keeps, recorded on /boot
    wipe: bool = False
    bootloader: bool = True                            # False: entries and grubenv only

    def validate(self):
        """Raise NodeError for options that can never work, whatever the disks."""
        if not self.disks:
            raise NodeError("no disk given: name one or more with --disk")
        check_distinct_disks(self.disks)
        self.validate_names()
        if _dev_clash(self.vg):
            raise NodeError(f"volume group name '{self.vg}' clashes with /dev/{self.vg}, which "
                            "already exists (LVM makes /dev/<vg> for a new volume group)")

    def validate_names(self):
        """The checks that do not involve disks (adopting an installed root has none)."""
        check_lvm_name("volume group", self.vg)
        check_lvm_name("thin pool", self.pool)
        check_dm_name(self.vg, self.pool, "thin pool")
        if self.profile not in constants.VOLUME_PROFILES:
            raise NodeError(f"unknown volume profile '{self.profile}' "
                            f"(choose {' or '.join(constants.VOLUME_PROFILES)})")
        if self.fstype not in ("ext4", "xfs"):
            raise NodeError(f"unsupported volume filesystem '{self.fstype}' (ext4 or xfs)")
        for mount_point, size in self.volume_sizes.items():
            check_volume_mount_point(mount_point)
            if isinstance(size, bool) or not isinstance(size, int) \
                    or not constants.MIN_VOLUME_SIZE <= size <= MAX_SIZE:
                raise NodeError(f"volume {mount_point}: size {size!r} must be from "
                                f"{constants.MIN_VOLUME_SIZE // MiB} MiB to 8 EiB")
        taken = {self.pool: "the thin pool", "swap": "swap"}
        for mount_point in self.volumes():
            name = constants.volume_lv_name(mount_point)
            check_dm_name(self.vg, name, f"volume LV for {mount_point}")
            if name in taken:
                raise NodeError(f"volume {mount_point} would be LV '{name}', the same name "
                                f"as {taken[name]}")
            taken[name] = f"volume {mount_point}"
        if not 1 <= self.keep <= constants.MAX_KEEP:
            raise NodeError(f"the number of images to keep must be from 1 to "
                            f"{constants.MAX_KEEP}, not {self.keep}")
        if self.root_size and self.root_size < constants.MIN_ROOT_SIZE:
            raise NodeError(f"the root size must be at least {constants.MIN_ROOT_SIZE // GiB} GiB")
        if 0 < self.swap_size < MIN_SWAP_SIZE:
            raise NodeError(f"swap must be 0 (none) or at least {MIN_SWAP_SIZE // MiB} MiB")
        if self.root_size > MAX_SIZE or self.swap_size > MAX_SIZE:
            raise NodeError("the root and swap sizes must be at most 8 EiB")

    def volumes(self):
        """The separate volumes to create: mount point -> size, parents first."""
        sizes = dict(constants.VOLUME_PROFILES[self.profile])
        sizes.update(self.volume_sizes)
        return dict(sorted(sizes.items(), key=lambda item: (item[0].count("/"), item[0])))

    def swap_bytes(self):
        """The swap size in bytes, resolving 'as Anaconda suggests'."""
        if self.swap_size >= 0:
            return self.swap_size
        return suggested_swap_size(machine_memory())
