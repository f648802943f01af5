"""Turn the root Anaconda installed into a node: imgbased's `layout --init`.

Inside Anaconda the storage module owns the disks: the kickstart (or the UI)
has it create a thin pool and a thin root (`autopart --type=thinp`), and
`liveimg` fills that root from the node image. The add-on's install task then
calls adopt_root(), which, with its own blivet instance and the lvm tools:

    checks   the root is a thin LV holding a node image, /boot is separate
    layers   root --snapshot--> base <nvr> (read-only) --snapshot--> <nvr>+1
    volumes  creates the separate volumes the layout lacks, moves content
    boot     writes the layer's fstab and its BLS entry as the default

Nothing is changed until every check has passed.

The pool is Anaconda's and adopting makes none, so the VG space it leaves
for the pool to autoextend is Anaconda's too: its thinp autopart sets
blivet's thpool_reserve (DEFAULT_THPOOL_RESERVE, what install/layout.py
keeps), custom `logvol` partitioning leaves what the kickstart's sizes leave.
`ovirt-node check` fails the pool when that cannot hold one extension.
"""

import json
import os
from dataclasses import dataclass, field

from blivet import Blivet
from blivet.size import Size

from org_ovirt_node import constants
from org_ovirt_node.errors import NodeError
from org_ovirt_node.image import rootfacts
from org_ovirt_node.install import bootconfig, deploy, layers, volumes
from org_ovirt_node.install.storage import execute, no_lvm_log_file
from org_ovirt_node.lifecycle import state
from org_ovirt_node.nvr import NVR
from org_ovirt_node.progress import Reporter
from org_ovirt_node.util import lvm
from org_ovirt_node.util.blkid import fs_type, fs_uuid
from org_ovirt_node.util.fstab import FstabEntry
from org_ovirt_node.util.mounts import mounted
from org_ovirt_node.util.run import run

# Mounts below the target that are not storage (Anaconda binds these in).
_VIRTUAL_FS = {"proc", "sysfs", "devtmpfs", "devpts", "tmpfs", "securityfs", "cgroup2",
               "efivarfs", "selinuxfs", "bpf", "tracefs", "debugfs", "mqueue", "hugetlbfs"}


@dataclass
class Mount:
    """A filesystem mounted below the target root."""

    mountpoint: str      # path inside the target ("/boot", "/var")
    source: str          # device
    fstype: str


@dataclass
class AdoptResult:
    """What adopt_root made of the installed root."""

    vg: str
    pool: str
    init_lv: str
    nvr: str
    layer: str
    created_volumes: list = field(default_factory=list)
    kept_mounts: list = field(default_factory=list)
    boot_entries: list = field(default_factory=list)

    def summary(self):
        """One line saying what the node now consists of."""
        made = ", ".join(self.created_volumes) or "none"
        return (f"{self.vg}/{self.init_lv} is now base {self.nvr} with layer {self.layer}; "
                f"volumes created: {made}")


def target_mounts(sysroot):
    """The storage mounted at and below SYSROOT, root first."""
    listing = json.loads(run(["findmnt", "--json", "--list", "--submounts", "--output",
                              "TARGET,SOURCE,FSTYPE", "--mountpoint", sysroot],
                             check=False).stdout or '{"filesystems": []}')
    mounts = []
    for item in listing.get("filesystems", []):
        if item["fstype"] in _VIRTUAL_FS:
            continue
        relative = "/" + os.path.relpath(item["target"], sysroot).lstrip(".")
        mounts.append(Mount(os.path.normpath(relative), item["source"], item["fstype"]))
    return sorted(mounts, key=lambda mount: (mount.mountpoint.count("/"), mount.mountpoint))


def lv_of(device):
    """The LVM facts of DEVICE as a dict, or None when it is not an LV."""
    try:
        rows = lvm.report("lvs", ["vg_name", "lv_name", "segtype", "pool_lv", "lv_path"],
                          device)
    except NodeError:
        return None
    return rows[0] if rows else None


def _read_nvr(sysroot):
    path = os.path.join(sysroot, constants.NVR_PATH_IN_IMAGE)
    try:
        with open(path, encoding="utf-8") as handle:
            return str(NVR.parse(handle.read().strip()))
    except FileNotFoundError:
        raise NodeError(f"the installed root has no {constants.NVR_PATH_IN_IMAGE}: it was "
                        "not installed from a node image (use liveimg with the node "
                        "image)") from None


def check_target(sysroot, options):
    """Check the installed target; return (root Mount, root LV facts, nvr, mounts)."""
    mounts = target_mounts(sysroot)
    if not mounts or mounts[0].mountpoint != "/":
        raise NodeError(f"nothing is mounted at {sysroot}: no installed root to adopt")
    root = mounts[0]
    root_lv = lv_of(root.source)
    if root_lv is None or root_lv["segtype"] != "thin":
        raise NodeError(f"the root filesystem ({root.source}) is not a thin LV; a node "
                        "needs a thin root: partition with `autopart --type=thinp` or "
                        "`logvol / --thinpool=...`")
    if root.fstype not in ("ext4", "xfs"):
        raise NodeError(f"the root filesystem is {root.fstype}; a node root is ext4 or xfs")
    if not any(mount.mountpoint == "/boot" for mount in mounts):
        raise NodeError("/boot is not a separate filesystem; a node needs a /boot partition")
    nvr = _read_nvr(sysroot)
    vg = root_lv["vg_name"]
    existing = {row["lv_name"] for row in lvm.report("lvs", ["lv_name"], vg)}
    for name in (nvr, NVR.parse(nvr).layer(1)):
        if name in existing:
            raise NodeError(f"an LV named {name} already exists in {vg}")
    if options.vg != vg or options.pool != root_lv["pool_lv"]:
        raise NodeError(f"the root is in {vg}/{root_lv['pool_lv']}, but the node section "
                        f"names {options.vg}/{options.pool}")
    return root, root_lv, nvr, mounts


def adopt_root(sysroot, options, reporter=None):
    """Make the thin root mounted at SYSROOT the base and first layer of a node.

    OPTIONS is an InstallOptions (vg, pool, volume profile and sizes, fstype;
    its disks are not used). Returns an AdoptResult.
    """
    reporter = reporter or Reporter()
    reporter.step("check", f"Checking the installed root at {sysroot}")
    _root, root_lv, nvr, mounts = check_target(sysroot, options)
    vg, pool, init_lv = root_lv["vg_name"], root_lv["pool_lv"], root_lv["lv_name"]
    layer = NVR.parse(nvr).layer(1)
    wanted = options.volumes()
    present = {mount.mountpoint for mount in mounts}
    missing = {mp: size for mp, size in wanted.items() if mp not in present}
    result = AdoptResult(vg, pool, init_lv, nvr, layer,
                         kept_mounts=[m.mountpoint for m in mounts[1:]])

    undo = _Undo(vg)
    try:
        _make_layers(vg, pool, init_lv, nvr, layer, mounts, undo, reporter)
        reporter.step("volumes", "Creating the separate volumes the layout lacks: " +
                      (", ".join(missing) or "none"))
        created = create_volumes(vg, pool, missing, options.fstype, reporter, undo)
        result.created_volumes = list(created)
        result.boot_entries = _fill_layer(sysroot, vg, layer, nvr, mounts, created,
                                          options, reporter)
    except BaseException as error:
        reporter.warning(f"making the node failed: {error}")
        reporter.warning(undo.run())
        raise
    return result


def _make_layers(vg, pool, init_lv, nvr, layer, mounts, undo, reporter):
    """Tag the layout; snapshot the root as base and the base as first layer."""
    reporter.step("layer", f"Making {init_lv} the base {nvr} and its layer {layer}")
    os.sync()
    undo.tag("vg", vg, constants.TAG_VG)
    undo.tag("lv", f"{vg}/{pool}", constants.TAG_POOL)
    undo.tag("lv", f"{vg}/{init_lv}", constants.TAG_INIT)
    layers.write_profile("/etc")
    lvm.set_metadata_profile(vg, pool, constants.THIN_PROFILE_NAME)
    undo.created(nvr)
    lvm.thin_snapshot(vg, init_lv, nvr, tags=[constants.TAG_BASE])
    deploy.new_uuid(layers.lv_path(vg, nvr))
    undo.created(layer)
    lvm.thin_snapshot(vg, nvr, layer, tags=[constants.TAG_LAYER])
    deploy.new_uuid(layers.lv_path(vg, layer))
    lvm.freeze_base(vg, nvr)
    for mount in mounts[1:]:
        kept = lv_of(mount.source)
        if kept and kept["segtype"] == "thin" and kept["pool_lv"] == pool:
            undo.tag("lv", f"{kept['vg_name']}/{kept['lv_name']}", constants.TAG_VOLUME)


def _fill_layer(sysroot, vg, layer, nvr, mounts, created, options, reporter):
    """Copy content onto the new volumes, write fstab and boot entries, then
    empty the moved sources (last, so everything before it can be undone)."""
    kept_points = [mount.mountpoint for mount in mounts[1:]]
    all_points = list(created) + kept_points
    boot = os.path.join(sysroot, "boot")
    with mounted(layers.lv_path(vg, layer)) as layer_root:
        sources = {}
        for mount_point in created:
            # content below a kept mount lives on that filesystem, mounted in SYSROOT
            on_kept = any(mount_point.startswith(kept.rstrip("/") + "/") for kept in kept_points)
            sources[mount_point] = sysroot if on_kept else layer_root
            volumes.seed_volume(sources[mount_point], mount_point, created[mount_point],
                                all_points, empty_source=False)
        reporter.step("boot", "Writing the layer's fstab and boot entry")
        bootconfig.write_fstab(layer_root, adopted_fstab(vg, layer, mounts, created,
                                                                options.fstype))
        layers.write_profile(os.path.join(layer_root, "etc"))
        state.record_install(boot, options.keep, nvr, rootfacts.os_release(layer_root), layer,
                             bootconfig.image_kernel_args(layer_root))
        entries = bootconfig.install_boot_entries(layer_root, boot, vg, layer, nvr,
                                                  kernel_dir=boot)
        for mount_point, root in sources.items():
            volumes.clear_source(root, mount_point, all_points)
    return entries


class _Undo:
    """What adopt_root changed, so a failure can take it back."""

    def __init__(self, vg):
        self.vg = vg
        self.tags = []
        self.lvs = []

    def tag(self, kind, name, tag):
        """Add TAG to NAME and remember it."""
        lvm.add_tag(kind, name, tag)
        self.tags.append((kind, name, tag))

    def created(self, lv_name):
        """Remember that LV_NAME is (about to be) created in the VG."""
        self.lvs.append(lv_name)

    def run(self):
        """Remove the LVs and tags added; return a report line."""
        left = []
        for name in reversed(self.lvs):
            result = lvm.lvm("lvremove", "--force", f"{self.vg}/{name}", check=False)
            if result.returncode != 0 and "not found" not in (result.stderr or ""):
                left.append(f"LV {self.vg}/{name}")
        for kind, name, tag in reversed(self.tags):
            command = "vgchange" if kind == "vg" else "lvchange"
            if lvm.lvm(command, "--deltag", tag, name, check=False).returncode != 0:
                left.append(f"tag {tag} on {name}")
        if left:
            return "undo incomplete; still there: " + ", ".join(left)
        return "undo: removed the LVs and tags this run added; the installed root is as it was"


def create_volumes(vg, pool, sizes, fstype, reporter, undo):
    """Create thin volumes for SIZES (mount point -> bytes) with our own blivet.

    Returns mount point -> device path, parents first.
    """
    if not sizes:
        return {}
    no_lvm_log_file()
    storage = Blivet()
    storage.exclusive_disks = lvm.vg_disks(vg)
    storage.reset()
    pool_device = storage.devicetree.get_device_by_name(f"{vg}-{pool}")
    if pool_device is None:
        raise NodeError(f"blivet does not see the thin pool {vg}/{pool}")
    paths = {}
    for mount_point, size in sizes.items():
        name = constants.volume_lv_name(mount_point)
        device = storage.new_lv(thin_volume=True, name=name, parents=[pool_device],
                                size=Size(size), fmt_type=fstype, mountpoint=mount_point)
        storage.create_device(device)
        paths[mount_point] = layers.lv_path(vg, name)
        undo.created(name)
    execute(storage, reporter)
    for path in paths.values():
        lvm.add_tag("lv", path, constants.TAG_VOLUME)
    return paths


def adopted_fstab(vg, layer, mounts, created, fstype):
    """fstab entries: the layer as /, kept mounts as they are, new volumes, swap."""
    entries = [FstabEntry(layers.lv_path(vg, layer), "/", mounts[0].fstype,
                          "defaults,discard", 1, 1)]
    for mount in mounts[1:]:
        kept = lv_of(mount.source)
        if kept:
            spec, options = kept["lv_path"], ("defaults,discard" if kept["segtype"] == "thin"
                                              else "defaults")
        else:
            spec = "UUID=" + fs_uuid(mount.source)
            options = "umask=0077,shortname=winnt" if mount.fstype == "vfat" else "defaults"
        entries.append(FstabEntry(spec, mount.mountpoint, mount.fstype, options, 1, 2))
    for mount_point, path in created.items():
        entries.append(FstabEntry(path, mount_point, fstype, "defaults,discard", 1, 2))
    for row in lvm.report("lvs", ["lv_path", "segtype"], vg):
        if row["segtype"] != "thin" and fs_type(row["lv_path"]) == "swap":
            entries.append(FstabEntry(row["lv_path"], "none", "swap", "defaults", 0, 0))
    return entries
