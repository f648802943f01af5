"""The service's state and behaviour, free of D-Bus details.

OvirtNodeModule holds the node settings as a NodeAddonData, the same object
the kickstart section parses into and writes from, so reading, editing from a
spoke and generating can never disagree. Every value a spoke sets is checked
with the section's own rules and refused with a NodeError.
"""

import os

from dasbus.server.container import DBusContainer
from dasbus.signal import Signal

from org_ovirt_node import dbus_ids
from org_ovirt_node.errors import NodeError
from org_ovirt_node.install.options import InstallOptions, check_lvm_name
from org_ovirt_node.ks.section import ADDON_NAME, PROFILES, NodeAddonData, parse_volume
from org_ovirt_node.ks.url import check_checksum, parse_image_url
from org_ovirt_node.progress import Reporter
from org_ovirt_node.service.kickstart import read_kickstart_text
from org_ovirt_node.service.structures import PlanData, PlannedDeviceData
from org_ovirt_node.service.tasks import adopt_root_task, verify_image_task

# Where Anaconda mounts the system being installed (conf.target.system_root);
# OVIRT_NODE_SYSROOT points elsewhere for tests and other installers.
TARGET_ROOT = os.environ.get("OVIRT_NODE_SYSROOT", "/mnt/sysroot")


class OvirtNodeModule:
    """What the installer and the spokes ask of the node add-on."""

    kickstart_command_names = []
    kickstart_section_names = []
    kickstart_addon_names = [ADDON_NAME]

    def __init__(self, message_bus, on_quit):
        self._tasks = DBusContainer(message_bus, dbus_ids.NAMESPACE,
                                    basename=dbus_ids.TASK_BASENAME)
        self._on_quit = on_quit
        self.addon = NodeAddonData()
        self.kickstarted = False
        self.settings_changed = Signal()

    # --- kickstart ---------------------------------------------------------

    def read_kickstart(self, text):
        """Parse TEXT; adopt its section when it is valid. Returns a KickstartReport."""
        addon, report = read_kickstart_text(text)
        if addon is not None:
            self.addon = addon
            self.kickstarted = True
            self.settings_changed.emit()
        return report

    def generate_kickstart(self):
        """The section as kickstart text; empty until an image is set."""
        return str(self.addon)

    # --- tasks ---------------------------------------------------------------

    def configure_with_tasks(self):
        """Object paths of the tasks to run before storage is created."""
        task = verify_image_task(self.addon.image_url, self.addon.checksum) \
            if self.addon.image_url else None
        return self._tasks.to_object_path_list([task] if task else [])

    def install_with_tasks(self):
        """Object paths of the tasks run after the payload: adopt the root."""
        tasks = [adopt_root_task(self.addon, TARGET_ROOT)] if self.addon.image_url else []
        return self._tasks.to_object_path_list(tasks)

    def stop(self):
        """Leave the main loop; the process ends."""
        self._on_quit()

    # --- settings for the spokes ---------------------------------------------

    def set_image(self, url, checksum):
        """Set the image URL and its checksum ("" for none) together."""
        self.addon.image_url = parse_image_url(url).text
        self.addon.checksum = check_checksum(checksum) if checksum else ""
        self.settings_changed.emit()

    def set_names(self, vg, pool):
        """Set the volume group and thin pool names."""
        check_lvm_name("volume group", vg)
        check_lvm_name("thin pool", pool)
        if vg == pool:
            raise NodeError(f"the volume group and the thin pool are both named '{vg}'")
        self.addon.vg, self.addon.pool = vg, pool
        self.settings_changed.emit()

    def set_volume_profile(self, profile):
        """Choose a profile; its default volumes replace the current ones."""
        if profile not in PROFILES:
            raise NodeError(f"unknown volume profile '{profile}' (choose "
                            f"{', '.join(sorted(PROFILES))})")
        self.addon.volume_profile = profile
        self.addon.volumes = dict(PROFILES[profile])
        self.settings_changed.emit()

    def set_volume_sizes(self, sizes):
        """Replace the separate volumes with SIZES {mount point: bytes}."""
        checked = dict(parse_volume(f"{mount}:{size}B") for mount, size in sizes.items())
        self.addon.volumes = checked
        self.settings_changed.emit()

    # --- planning ------------------------------------------------------------

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
            data.problems = [error.message]
            return data
        except Exception as error:  # pylint: disable=broad-except
            # A spoke asking for a layout must get an answer, not a dead call.
            data.problems = [f"cannot compute the layout ({type(error).__name__}: {error})"]
            return data
        data.nvr, data.layer, data.problems = plan.nvr, plan.layer, plan.problems
        data.devices = [_device_data(device) for device in plan.devices]
        return data

    def _make_plan(self, disks):
        if not self.addon.image_url:
            raise NodeError("no node image is set")
        url = parse_image_url(self.addon.image_url)
        if url.scheme != "file":
            raise NodeError(f"the layout is computed from a local image; a {url.scheme}: "
                            "image is planned once it is fetched")
        options = InstallOptions(disks=disks, vg=self.addon.vg, pool=self.addon.pool,
                                 profile=self.addon.volume_profile,
                                 volume_sizes=dict(self.addon.volumes),
                                 fstype=self.addon.fstype)
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
