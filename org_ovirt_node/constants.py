"""Names and numbers shared with oVirt Node NG, imgbased and Anaconda.

These are the compatibility surface (see shared/reference/node-ng.md): LV tags
that `lvs @imgbased:base` finds, default VG/pool names, the NIST volume sizes
and the kernel arguments a layer boots with. Change them only with the
reference.
"""

from org_ovirt_node.sizes import GiB, MiB

DEFAULT_VG = "onn"
DEFAULT_POOL = "pool00"

# LV/VG tags imgbased uses to find its parts without fixed names.
TAG_VG = "imgbased:vg"
TAG_POOL = "imgbased:pool"
TAG_INIT = "imgbased:init"
TAG_BASE = "imgbased:base"
TAG_LAYER = "imgbased:layer"
TAG_VOLUME = "imgbased:volume"

# Where an image records its NVR, as the reference build does.
NVR_PATH_IN_IMAGE = "usr/share/imgbase/build/meta/nvr"
ROOTFS_IN_IMAGE = "LiveOS/rootfs.img"
# Separate volumes an image needs ("MOUNT SIZE" lines); an update creates the
# ones the node lacks.
VOLUMES_IN_IMAGE = "usr/share/ovirt-node/volumes"

# imgbased expects all the NIST volumes unless this file exists on the node.
SKIP_VOLUMES_MARKER = "var/imgbased/.skip-volumes"

# Separate thin volumes: mount point -> default virtual size.
NIST_VOLUMES = {
    "/var": 5 * GiB,
    "/var/log": 8 * GiB,
    "/var/log/audit": 2 * GiB,
    "/var/tmp": 10 * GiB,
    "/var/crash": 10 * GiB,
    "/home": 1 * GiB,
    "/tmp": 1 * GiB,
}
MINIMAL_VOLUMES = {"/var": 5 * GiB}
VOLUME_PROFILES = {"nist": NIST_VOLUMES, "minimal": MINIMAL_VOLUMES, "none": {}}
DEFAULT_PROFILE = "nist"

# Images (bases) gc keeps by default, as imgbased's images_to_keep.
DEFAULT_KEEP = 2
MAX_KEEP = 100

MIN_ROOT_SIZE = 6 * GiB
MIN_VOLUME_SIZE = 512 * MiB
MIN_BOOT_SIZE = 1 * GiB
# imgbased refuses a /boot whose filesystem has fewer than 1e9 bytes
# (statvfs f_blocks * f_frsize, bootloader.py validate()). ext4 on a 1 GiB
# partition has about 1.02e9 of them: 2% above, lost to a larger journal or
# another mkfs default. 1280 MiB gives about 1.28e9, a margin of over 25%.
IMGBASED_MIN_BOOT_BYTES = 10 ** 9
BOOT_SIZE = 1280 * MiB
EFI_SIZE = 600 * MiB
BIOSBOOT_SIZE = 1 * MiB
POOL_METADATA_SIZE = 1 * GiB

# The LVM profile the thin pool carries so it grows before it fills.
THIN_PROFILE_NAME = "imgbased-pool"
THIN_PROFILE = {
    "thin_pool_autoextend_threshold": 70,
    "thin_pool_autoextend_percent": 20,
}

# `ovirt-node check`'s marks for the pool's data and metadata use (percent):
# from WARN the pool check warns, from FAIL it fails. `status --json` carries
# both (pool.warn_percent, pool.fail_percent) for the Cockpit page's gauges.
POOL_WARN_PERCENT = 80.0
POOL_FAIL_PERCENT = 95.0


def volume_lv_name(mount_point):
    """The LV name of a separate volume: /var/log/audit -> var_log_audit."""
    return mount_point.strip("/").replace("/", "_")


def layer_kernel_args(vg, layer):
    """The kernel arguments that boot LAYER of VG, before the image's own."""
    return [f"root=/dev/{vg}/{layer}", f"rd.lvm.lv={vg}/{layer}",
            "rootflags=discard", f"img.bootid={layer}"]
