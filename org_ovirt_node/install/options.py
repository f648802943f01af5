"""What the user asked for, resolved to concrete names and byte sizes.

The CLI, the kickstart section and the D-Bus module all end up building one
InstallOptions, so defaults (VG `onn`, pool `pool00`, NIST volumes, swap as
Anaconda would size it) are decided in exactly one place.
"""

import posixpath
from dataclasses import dataclass, field

from org_ovirt_node import constants
from org_ovirt_node.errors import NodeError
from org_ovirt_node.sizes import GiB

_LVM_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+")


def check_lvm_name(kind, name):
    """Raise NodeError unless NAME is a usable LVM VG/LV name."""
    if not name or name in (".", "..") or name.startswith("-"):
        raise NodeError(f"{kind} name '{name}' is not a valid LVM name")
    if not set(name) <= _LVM_NAME_CHARS or "+" in name:
        raise NodeError(f"{kind} name '{name}' may only hold letters, digits and ._-")
    if len(name) > 64:
        raise NodeError(f"{kind} name '{name}' is longer than 64 characters")


# Mount points a separate volume may never take: the root, what the image owns
# (/usr, /etc), /boot (a partition GRUB reads) and the kernel's own trees.
_RESERVED_MOUNTS = ("/boot", "/usr", "/etc", "/proc", "/sys", "/dev", "/run")


def check_volume_mount_point(mount_point):
    """Raise NodeError unless MOUNT_POINT can be a separate volume's mount point."""
    if (not mount_point.startswith("/") or mount_point == "/" or
            posixpath.normpath(mount_point) != mount_point or "//" in mount_point or
            any(char.isspace() for char in mount_point)):
        raise NodeError(f"volume mount point '{mount_point}' must be a plain absolute path "
                        "below / (no '..', '//', trailing '/' or spaces)")
    if any(mount_point == reserved or mount_point.startswith(reserved + "/")
           for reserved in _RESERVED_MOUNTS):
        raise NodeError(f"volume mount point '{mount_point}' is reserved: a volume cannot be "
                        f"under {', '.join(_RESERVED_MOUNTS)}")


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
        if len(set(self.disks)) != len(self.disks):
            raise NodeError("a disk is named twice")
        self.validate_names()

    def validate_names(self):
        """The checks that do not involve disks (adopting an installed root has none)."""
        check_lvm_name("volume group", self.vg)
        check_lvm_name("thin pool", self.pool)
        if self.profile not in constants.VOLUME_PROFILES:
            raise NodeError(f"unknown volume profile '{self.profile}' "
                            f"(choose {' or '.join(constants.VOLUME_PROFILES)})")
        if self.fstype not in ("ext4", "xfs"):
            raise NodeError(f"unsupported volume filesystem '{self.fstype}' (ext4 or xfs)")
        for mount_point in self.volume_sizes:
            check_volume_mount_point(mount_point)
        if not 1 <= self.keep <= constants.MAX_KEEP:
            raise NodeError(f"the number of images to keep must be from 1 to "
                            f"{constants.MAX_KEEP}, not {self.keep}")
        if self.root_size and self.root_size < constants.MIN_ROOT_SIZE:
            raise NodeError(f"the root size must be at least {constants.MIN_ROOT_SIZE // GiB} GiB")

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
