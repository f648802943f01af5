"""The node settings a spoke edits and the layout they give, free of D-Bus
and of Anaconda.

NodeSettings holds the settings as a NodeAddonData, the same object the
kickstart section parses into and writes from, so reading, editing from a
spoke and generating can never disagree. Every value a spoke sets is checked
with the section's own rules and refused with a NodeError. Both service
implementations (module.OvirtNodeModule and the Anaconda glue) are
NodeSettings, so the spokes meet the same rules in and out of the installer.
Every text they send a spoke is worded for the installer (wording.py).
"""

import functools

from dasbus.signal import Signal

from org_ovirt_node.errors import NodeError
from org_ovirt_node.install.options import InstallOptions, check_lvm_name
from org_ovirt_node.ks.section import PROFILES, NodeAddonData, check_mount_point, parse_volume
from org_ovirt_node.ks.url import check_checksum, parse_image_url
from org_ovirt_node.progress import Reporter
from org_ovirt_node.service.structures import PlanData, PlannedDeviceData
from org_ovirt_node.service.wording import installer_text
from org_ovirt_node.sizes import format_size_exact

# The plan's problem when the installer has no disk chosen yet.
NO_DISK = "no disk is selected: choose the disks under Installation Destination"


def for_spokes(setter):
    """SETTER's refusals (NodeError) worded for the installer."""
    @functools.wraps(setter)
    def checked(*args, **kwargs):
        try:
            return setter(*args, **kwargs)
        except NodeError as error:
            raise NodeError(installer_text(error.message)) from None
    return checked


class NodeSettings:
    """The section's values, their checked setters, and planning."""

    def __init__(self):
        super().__init__()
        self.addon = NodeAddonData()
        self.settings_changed = Signal()

    def adopt(self, addon):
        """Take the settings of a section read from a kickstart."""
        self.addon = addon
        self.settings_changed.emit()

    @for_spokes
    def set_image(self, url, checksum):
        """Set the image URL and its checksum ("" for none) together."""
        self.addon.image_url = parse_image_url(url).text
        self.addon.checksum = check_checksum(checksum) if checksum else ""
        self.settings_changed.emit()

    @for_spokes
    def set_names(self, vg, pool):
        """Set the volume group and thin pool names."""
        check_lvm_name("volume group", vg)
        check_lvm_name("thin pool", pool)
        if vg == pool:
            raise NodeError(f"the volume group and the thin pool are both named '{vg}'")
        self.addon.vg, self.addon.pool = vg, pool
        self.settings_changed.emit()

    @for_spokes
    def set_volume_profile(self, profile):
        """Choose a profile; its default volumes replace the current ones."""
        if profile not in PROFILES:
            raise NodeError(f"unknown volume profile '{profile}' (choose "
                            f"{', '.join(sorted(PROFILES))})")
        self.addon.volume_profile = profile
        self.addon.volumes = dict(PROFILES[profile])
        self.settings_changed.emit()

    @for_spokes
    def set_volume_sizes(self, sizes):
        """Replace the separate volumes with SIZES {mount point: bytes}."""
        for mount in sizes:
            check_mount_point(mount)
        # Written as in a kickstart ('1MiB', not '1048576B'), so refusals read well.
        checked = dict(parse_volume(f"{mount}:{format_size_exact(size)}")
                       for mount, size in sizes.items())
        self.addon.volumes = checked
        self.settings_changed.emit()

    def plan(self, disks):
        """The layout the current settings give on DISKS, as PlanData.

        Reads the disks; every reason it cannot (no local image yet, a disk
        that cannot be read, storage tools missing) is a problem in the
        result, never an exception.
        """
        data = PlanData()
        try:
            plan = self._make_plan(list(disks))
        except NodeError as error:
            data.problems = [installer_text(error.message)]
            return data
        except Exception as error:  # pylint: disable=broad-except
            # A spoke asking for a layout must get an answer, not a dead call.
            data.problems = [f"cannot compute the layout ({type(error).__name__}: {error})"]
            return data
        data.nvr, data.layer = plan.nvr, plan.layer
        data.problems = [installer_text(problem) for problem in plan.problems]
        data.devices = [_device_data(device) for device in plan.devices]
        return data

    def _make_plan(self, disks):
        if not self.addon.image_url:
            raise NodeError("no node image is set")
        url = parse_image_url(self.addon.image_url)
        if url.scheme != "file":
            raise NodeError(f"the layout is computed from a local image; a {url.scheme}: "
                            "image is planned once it is fetched")
        if not disks:
            raise NodeError(NO_DISK)
        # Anaconda installs the boot loader, and clears the chosen disks as
        # its storage settings say: the preview plans onto them as if blank.
        options = InstallOptions(disks=disks, vg=self.addon.vg, pool=self.addon.pool,
                                 profile=self.addon.volume_profile,
                                 volume_sizes=dict(self.addon.volumes),
                                 fstype=self.addon.fstype,
                                 bootloader=False, wipe=True)
        options.validate()
        # Imported here: the pipeline needs blivet, which only planning uses.
        from org_ovirt_node.install.pipeline import make_plan  # pylint: disable=import-outside-toplevel
        plan, _devices, _storage = make_plan(url.path, options, Reporter(), check=False)
        return plan


def _device_data(device):
    data = PlannedDeviceData()
    data.role, data.name, data.size = device.role, device.name, device.size
    data.fstype, data.mount_point, data.parent = device.fstype, device.mountpoint, device.parent
    return data
