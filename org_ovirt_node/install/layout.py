"""Schedule the Node NG layout on a blivet model and describe it as a Plan.

This step only adds actions to a blivet instance (partitions, PV, VG, thin
pool, thin LVs, swap); nothing is written until blivet's do_it() runs them.
So the same function serves `--dry-run`, the D-Bus Plan call and the real
install, and unit tests run it on in-memory disks.
"""

import math
from decimal import Decimal

from blivet import partitioning
from blivet.devices.lvm import DEFAULT_THPOOL_RESERVE
from blivet.errors import StorageError
from blivet.formats.disklabel import DiskLabel
from blivet.size import Size

from org_ovirt_node import constants
from org_ovirt_node.errors import NodeError
from org_ovirt_node.install.layers import blivet_lv_name
from org_ovirt_node.install.plan import Plan, PlannedDevice
from org_ovirt_node.nvr import NVR
from org_ovirt_node.sizes import GiB, MiB, format_size

# A VG at least this big gets the reference's 1 GiB pool metadata; smaller
# ones get SMALL_POOL_METADATA so metadata and its spare copy do not eat it.
FULL_METADATA_MIN_VG = 16 * GiB
SMALL_POOL_METADATA = 128 * MiB
# What a new, empty filesystem on a thin volume really allocates (journal,
# inode tables of the first groups); an estimate used for the "fits" check.
NEW_FS_ALLOCATION = 128 * MiB
# Extra room the pool must have beyond what the install writes.
DATA_RESERVE_FRACTION = 0.10
# Extents LVM may need for alignment and its own bookkeeping.
VG_SLACK = 16 * MiB


def root_size_for(image, options):
    """Virtual size of the base and its layers: asked for, or max(6 GiB, image).

    Raises NodeError when the size asked for cannot hold the image.
    """
    if not options.root_size:
        return max(constants.MIN_ROOT_SIZE, -(-image.rootfs_size // GiB) * GiB)
    if options.root_size < image.rootfs_size:
        raise NodeError(f"the root size {format_size(options.root_size)} is smaller than the "
                        f"image's root filesystem ({format_size(image.rootfs_size)})")
    return options.root_size


def thin_pool_reserve(vg_size, extent_size, spec=DEFAULT_THPOOL_RESERVE):
    """Bytes of VG_SIZE kept free so the thin pool can autoextend.

    This is blivet's own arithmetic (LVMVolumeGroupDevice.reserved_space with
    thpool_reserve set, as Anaconda's thinp autopart sets it): SPEC's percent
    of the VG (Decimal(0.01), a float, exactly as blivet writes it), at least
    SPEC.min and at most SPEC.max, rounded up to whole extents. Without it the
    pool takes the whole VG and its autoextend profile can never act.
    """
    wanted = min(max(spec.percent * Decimal(0.01) * vg_size, int(spec.min)), int(spec.max))
    return math.ceil(wanted / extent_size) * extent_size


def schedule_layout(storage, disks, options, image):
    """Add the node layout to blivet STORAGE on DISKS; return (Plan, devices).

    DISKS are blivet disk devices, already in STORAGE's device tree. IMAGE is an
    ImageInfo (nvr, rootfs_size, rootfs_used). DEVICES maps roles to the blivet
    devices the later steps need (the base LV, the volumes, /boot).
    """
    nvr = str(NVR.parse(image.nvr))
    DiskLabel.set_default_label_type("gpt")
    for disk in disks:
        if options.wipe:
            storage.recursive_remove(disk)
        storage.initialize_disk(disk)

    first = disks[0]
    biosboot = storage.new_partition(fmt_type="biosboot", size=Size(constants.BIOSBOOT_SIZE),
                                     parents=[first])
    efi = storage.new_partition(fmt_type="efi", mountpoint="/boot/efi",
                                size=Size(constants.EFI_SIZE), parents=[first])
    boot = storage.new_partition(fmt_type="ext4", mountpoint="/boot",
                                 size=Size(constants.BOOT_SIZE), parents=[first])
    pvs = [storage.new_partition(fmt_type="lvmpv", size=Size("16MiB"), grow=True,
                                 parents=[disk]) for disk in disks]
    for device in (biosboot, efi, boot, *pvs):
        storage.create_device(device)
    try:
        partitioning.do_partitioning(storage)
    except (StorageError, ValueError) as error:
        total = sum(int(disk.size) for disk in disks)
        raise NodeError(f"the disks ({format_size(total)}) are too small for the boot "
                        f"partitions and an LVM physical volume: {error}") from None

    vg = storage.new_vg(name=options.vg, parents=pvs)
    # blivet then counts the reserve as used once the VG holds a thin pool.
    vg.thpool_reserve = DEFAULT_THPOOL_RESERVE
    storage.create_device(vg)
    vg_size = int(vg.size)
    metadata = constants.POOL_METADATA_SIZE if vg_size >= FULL_METADATA_MIN_VG \
        else SMALL_POOL_METADATA
    swap_size = options.swap_bytes()
    root_size = root_size_for(image, options)
    volumes = options.volumes()
    data_needed = int((image.rootfs_used
                       + NEW_FS_ALLOCATION * (len(volumes) + 1)) * (1 + DATA_RESERVE_FRACTION))
    reserve = thin_pool_reserve(vg_size, int(vg.pe_size))

    # metadata is needed twice: the pool's own and LVM's spare copy (pmspare)
    pool_data = vg_size - swap_size - 2 * metadata - reserve - VG_SLACK
    plan = Plan(disks={disk.path: int(disk.size) for disk in disks}, nvr=nvr,
                layer=NVR.parse(nvr).layer(1), vg=options.vg, pool=options.pool, devices=[],
                vg_size=vg_size, pool_data_size=max(pool_data, 0),
                pool_metadata_size=metadata, pool_reserve=reserve, data_needed=data_needed)
    if pool_data < data_needed:
        plan.problems.append(_too_small(plan, swap_size))
        return plan, {}

    swap = None
    if swap_size:
        swap = storage.new_lv(name="swap", fmt_type="swap", size=Size(swap_size), parents=[vg])
        storage.create_device(swap)
    pool = storage.new_lv(thin_pool=True, name=options.pool, parents=[vg],
                          size=Size(pool_data), metadata_size=Size(metadata))
    storage.create_device(pool)
    plan.pool_data_size = int(pool.size)
    base = storage.new_lv(thin_volume=True, name=blivet_lv_name(nvr), parents=[pool],
                          size=Size(root_size))
    storage.create_device(base)
    volume_devices = {}
    for mount_point, size in volumes.items():
        lv = storage.new_lv(thin_volume=True, name=constants.volume_lv_name(mount_point),
                            parents=[pool], size=Size(size), fmt_type=options.fstype,
                            mountpoint=mount_point)
        storage.create_device(lv)
        volume_devices[mount_point] = lv

    _describe(plan, storage, biosboot, efi, boot, pvs, vg, swap, pool, base, volume_devices)
    if vg.free_space < 0:
        plan.problems.append(f"the layout overfills volume group {options.vg} by "
                             f"{format_size(-int(vg.free_space))}")
    devices = {"boot": boot, "efi": efi, "base": base, "pool": pool, "vg": vg,
               "swap": swap, "volumes": volume_devices}
    return plan, devices


def _too_small(plan, swap_size):
    """The refusal when PLAN's VG cannot hold swap, metadata, the reserve and the data."""
    metadata = 2 * plan.pool_metadata_size
    fixed = swap_size + metadata + plan.pool_reserve + VG_SLACK
    disk_total = sum(plan.disks.values())
    return (f"the disks are too small: the volume group has {format_size(plan.vg_size)}, but "
            f"swap ({format_size(swap_size)}), pool metadata and its spare "
            f"({format_size(metadata)}) and the room kept free for the pool to grow "
            f"({format_size(plan.pool_reserve)}, 20% of the VG, 1-100 GiB) take "
            f"{format_size(fixed)} and the image with new filesystems needs "
            f"{format_size(plan.data_needed)} of pool data (at least "
            f"{format_size(fixed + plan.data_needed + disk_total - plan.vg_size)} of disk in all)")


def _describe(plan, storage, biosboot, efi, boot, pvs, vg, swap, pool, base, volumes):
    """Fill PLAN.devices from the scheduled blivet devices, in creation order."""
    def part(role, device, fstype="", mountpoint=""):
        plan.devices.append(PlannedDevice(role, device.name, int(device.size), fstype,
                                          mountpoint, device.disk.path))
    part("biosboot", biosboot)
    part("efi", efi, "vfat", "/boot/efi")
    part("boot", boot, "ext4", "/boot")
    for pv in pvs:
        part("pv", pv, "lvmpv")
    plan.devices.append(PlannedDevice("vg", vg.name, int(vg.size), "", "",
                                      ",".join(pv.name for pv in pvs), [constants.TAG_VG]))
    if swap:
        plan.devices.append(PlannedDevice("swap", swap.lvname, int(swap.size), "swap", "swap",
                                          vg.name))
    plan.devices.append(PlannedDevice("pool", pool.lvname, int(pool.size), "", "", vg.name,
                                      [constants.TAG_POOL]))
    plan.devices.append(PlannedDevice("base", plan.nvr, int(base.size), "ext4", "",
                                      pool.lvname, [constants.TAG_BASE]))
    plan.devices.append(PlannedDevice("layer", plan.layer, int(base.size), "ext4", "/",
                                      plan.nvr, [constants.TAG_LAYER]))
    thin_total = 2 * int(base.size)
    for mount_point, lv in volumes.items():
        plan.devices.append(PlannedDevice("volume", lv.lvname, int(lv.size), lv.format.type,
                                          mount_point, pool.lvname, [constants.TAG_VOLUME]))
        thin_total += int(lv.size)
    plan.thin_virtual_size = thin_total
