"""Separate volumes a new image needs that the node lacks, created on update.

An image lists the volumes it needs in /usr/share/ovirt-node/volumes, one
"MOUNT SIZE" per line (e.g. `/var/lib/libvirt 20GiB`). Those missing from
the node's fstab become thin volumes like the install's: named by mount
point, tagged imgbased:volume, mounted with discard, filled with what the
image holds there. A volume LV that an earlier update made but the current
layer does not mount (after a rollback) is mounted again, not recreated.
"""

import os

from org_ovirt_node import constants
from org_ovirt_node.errors import NodeError
from org_ovirt_node.image import rootfacts
from org_ovirt_node.install.options import check_volume_mount_point
from org_ovirt_node.sizes import parse_size
from org_ovirt_node.util import lvm
from org_ovirt_node.util.fstab import FstabEntry
from org_ovirt_node.util.run import run


def declared_volumes(root):
    """{mount point: bytes} the image at ROOT declares; {} when it declares none."""
    text = rootfacts.read_text(root, constants.VOLUMES_IN_IMAGE)
    volumes = {}
    for number, line in enumerate((text or "").splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        where = f"/{constants.VOLUMES_IN_IMAGE}:{number}"
        if len(fields) != 2:
            raise NodeError(f"{where}: expected 'MOUNT SIZE', got '{line.strip()}'")
        try:
            check_volume_mount_point(fields[0])
            volumes[fields[0]] = parse_size(fields[1])
        except NodeError as error:
            raise NodeError(f"{where}: {error}") from None
    return volumes


def plan_new_volumes(node, declared, present, leftovers=()):
    """{mount point: {"lv", "size", "exists"}} for DECLARED volumes not in PRESENT.

    LEFTOVERS are LVs an interrupted update made, which the update removes
    before it writes: a volume among them is to be created again, not reused.
    """
    rows = {row["lv_name"]: row for row in node.lvs() if row["lv_name"] not in leftovers}
    plan = {}
    for mount_point, size in sorted(declared.items(), key=lambda item: item[0].count("/")):
        if mount_point in present:
            continue
        name = constants.volume_lv_name(mount_point)
        row = rows.get(name)
        if row and constants.TAG_VOLUME not in row["lv_tags"].split(","):
            raise NodeError(f"the image needs a volume for {mount_point}, but LV "
                            f"{node.vg}/{name} exists and is not a volume")
        plan[mount_point] = {"lv": name, "size": size, "exists": row is not None}
    return plan


def create(node, planned, fstype, record):
    """Create the PLANNED volumes that do not exist yet; return their fstab entries."""
    entries = []
    for mount_point, item in planned.items():
        if not item["exists"]:
            record.will_create_lv(item["lv"])
            lvm.lvm("lvcreate", "--thin", "--virtualsize", f"{item['size']}b", "--name",
                    item["lv"], "--addtag", constants.TAG_VOLUME, f"{node.vg}/{node.pool}")
            run([f"mkfs.{fstype}", "-q", node.lv_path(item["lv"])])
        entries.append(FstabEntry(node.lv_path(item["lv"]), mount_point, fstype,
                                  "defaults,discard", 1, 2))
    return entries


def seed(entries, image_root, target):
    """Copy what the image holds at each new volume's mount point onto the mounted volume."""
    for entry in entries:
        source = os.path.join(image_root, entry.mountpoint.lstrip("/"))
        if os.path.isdir(source) and not os.path.islink(source):
            run(["rsync", "-aHAXS", "--numeric-ids", "--ignore-existing", f"{source}/",
                 f"{os.path.join(target, entry.mountpoint.lstrip('/'))}/"])
