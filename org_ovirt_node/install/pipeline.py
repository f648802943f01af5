"""The install, as named steps: inspect -> disks -> plan -> layout -> deploy ->
layer -> volumes -> boot config -> boot loader.

Everything is checked and planned before the first write. Once writing has
started, a failure undoes what this run created (rollback.py) and the error
says so. The same function backs `ovirt-node install` and the add-on.
"""

import os
from dataclasses import dataclass, field

from org_ovirt_node import constants, trust
from org_ovirt_node.errors import NodeError
from org_ovirt_node.image import rootfacts
from org_ovirt_node.image.inspect import inspect_image
from org_ovirt_node.image.mount import mounted_image
from org_ovirt_node.install import bootconfig, bootloader, deploy, disks, layers, rollback, volumes
from org_ovirt_node.install.layout import schedule_layout
from org_ovirt_node.install.options import check_dm_name
from org_ovirt_node.install.storage import execute, open_storage
from org_ovirt_node.lifecycle import state
from org_ovirt_node.nvr import NVR
from org_ovirt_node.progress import Reporter
from org_ovirt_node.util.blkid import fs_uuid
from org_ovirt_node.util.fstab import FstabEntry
from org_ovirt_node.util.mounts import mounted


@dataclass
class InstallResult:
    """What an install made: the plan it followed and the boot entries written."""

    plan: object
    boot_entries: list = field(default_factory=list)

    def to_dict(self):
        """JSON-ready form."""
        return {"plan": self.plan.to_dict(),
                "boot_entries": [entry.filename for entry in self.boot_entries],
                "default_entry": self.boot_entries[0].entry_id if self.boot_entries else None}


class _WithinStep:
    """REPORTER for work inside the current step: its byte progress is shown,
    sub-steps are not announced (the install's steps stay as documented)."""

    def __init__(self, reporter):
        self._reporter = reporter

    def step(self, *_args, **_kwargs):
        pass

    def __getattr__(self, name):
        return getattr(self._reporter, name)


def make_plan(image_path, options, reporter, check=True):
    """Check the image, the options and the disks; return (plan, devices, storage).

    Only reads. Raises NodeError for anything that makes the install impossible;
    with CHECK false, layout problems stay in plan.problems for the caller to
    show (the spokes list them next to the layout).
    """
    options.validate()
    reporter.step("inspect", f"Inspecting image {image_path}")
    image = inspect_image(image_path, reporter=_WithinStep(reporter), trust=trust.load())
    reporter.info(f"{image.nvr}: {image.os_name} {image.os_version}, kernel "
                  f"{', '.join(image.kernels)}")
    check_dm_name(options.vg, NVR.parse(image.nvr).layer(999), "layer")
    if options.bootloader:
        bootloader.check_image(image)
    reporter.step("disks", "Checking disks " + ", ".join(options.disks))
    for path in options.disks:
        disks.check_disk(path, options.wipe)
    storage, disk_devices = open_storage(options.disks)
    plan, devices = schedule_layout(storage, disk_devices, options, image)
    plan.signed_by, plan.signature_policy = image.signed_by, image.signature_policy
    if check:
        plan.check()
    return plan, devices, storage


def install(image_path, options, reporter=None, confirm=None):
    """Install IMAGE_PATH onto OPTIONS.disks; return an InstallResult.

    CONFIRM, if given, is called with the plan before the first write and must
    return True for the install to go on.
    """
    reporter = reporter or Reporter()
    plan, devices, storage = make_plan(image_path, options, reporter)
    if confirm is not None and not confirm(plan):
        raise NodeError("cancelled; nothing was written")
    pv_paths = []
    try:
        reporter.step("layout", "Creating partitions, volume group, thin pool and volumes")
        pv_paths = [pv.path for pv in devices["vg"].parents]
        execute(storage, reporter)
        layers.tag_layout(plan)
        base = layers.lv_path(plan.vg, plan.nvr)
        reporter.step("deploy", f"Writing the image into {base}")
        with mounted_image(image_path) as image:
            deploy.deploy_image(image, base, reporter,
                                layers.pool_chunk_size(plan.vg, plan.pool))
        reporter.step("layer", f"Creating the writable layer {plan.layer}")
        layer = layers.create_layer(plan)
        deploy.new_uuid(layer)
        layers.freeze_base(plan)
        reporter.step("volumes", "Moving content onto the separate volumes")
        with mounted(layer) as root:
            seed_volumes(root, plan)
            reporter.step("boot", "Writing fstab and boot entries")
            entries = configure_boot(root, plan, devices, options.keep)
            if options.bootloader:
                reporter.step("bootloader", "Installing the image's GRUB for BIOS and UEFI")
                bootloader.install_bootloader(root, devices["boot"].path, devices["efi"].path,
                                              devices["boot"].disk.path)
    except BaseException as error:
        reporter.warning(f"install failed: {error}")
        reporter.warning(rollback.undo_layout(plan, pv_paths, options.disks))
        raise
    return InstallResult(plan, entries)


def seed_volumes(root, plan):
    """Move each separate volume's content out of the layer onto its LV.

    With fewer volumes than the NIST seven, /var/imgbased/.skip-volumes goes
    in first (and so onto /var's volume): imgbased otherwise expects all
    seven and its check and update fail.
    """
    mount_points = [dev.mountpoint for dev in plan.devices if dev.role == "volume"]
    if not set(constants.NIST_VOLUMES) <= set(mount_points):
        volumes.mark_skip_volumes(root)
    for device in plan.devices:
        if device.role == "volume":
            volumes.seed_volume(root, device.mountpoint, layers.lv_path(plan.vg, device.name),
                                mount_points)


def fstab_entries(plan, devices):
    """The fstab lines of the new layout, root first, then by mount point."""
    vg = plan.vg
    entries = [FstabEntry(layers.lv_path(vg, plan.layer), "/", "ext4", "defaults,discard", 1, 1),
               FstabEntry(f"UUID={fs_uuid(devices['boot'].path)}", "/boot", "ext4",
                          "defaults", 1, 2),
               FstabEntry(f"UUID={fs_uuid(devices['efi'].path)}", "/boot/efi", "vfat",
                          "umask=0077,shortname=winnt", 0, 2)]
    for device in plan.devices:
        if device.role == "volume":
            entries.append(FstabEntry(layers.lv_path(vg, device.name), device.mountpoint,
                                      device.fstype, "defaults,discard", 1, 2))
        elif device.role == "swap":
            entries.append(FstabEntry(layers.lv_path(vg, device.name), "none", "swap",
                                      "defaults", 0, 0))
    return entries


def configure_boot(root, plan, devices, keep):
    """fstab, LVM profile, boot entries and the node state for the layer mounted at ROOT."""
    bootconfig.write_fstab(root, fstab_entries(plan, devices))
    layers.write_profile(os.path.join(root, "etc"))
    with mounted(devices["boot"].path) as boot:
        state.record_install(boot, keep, plan.nvr, rootfacts.os_release(root), plan.layer,
                             bootconfig.image_kernel_args(root), plan.signed_by,
                             plan.signature_policy)
        return bootconfig.install_boot_entries(root, boot, plan.vg, plan.layer, plan.nvr)
