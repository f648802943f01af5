"""The D-Bus face of the node module.

KickstartModuleInterface is the protocol Anaconda's boss speaks to every
module, member for member as Anaconda declares it; NodeMembers adds what the
node spokes need. OvirtNodeInterface joins the two on one object at
dbus_ids.OBJECT_PATH; the Anaconda glue joins NodeMembers with Anaconda's own
KickstartModuleInterface the same way.

The protocol is published under two names: Anaconda's own
(org.fedoraproject.Anaconda.Modules) and the one the add-on contract names
(CONTRACT_INTERFACE). The second block is a copy of the first in the object's
introspection XML, so a call through either name reaches the same method.
"""

import xml.etree.ElementTree as ET

from dasbus.server.interface import dbus_interface, get_xml
from dasbus.server.property import emits_properties_changed
from dasbus.server.template import InterfaceTemplate
from dasbus.typing import Bool, Dict, List, ObjPath, Str, Structure, UInt64

from org_ovirt_node import dbus_ids
from org_ovirt_node.service.structures import KickstartReport, PlanData

# The protocol's name in the add-on contract; Anaconda itself calls
# dbus_ids.KICKSTART_MODULE_INTERFACE.
CONTRACT_INTERFACE = "org.fedoraproject.Anaconda.KickstartModule"


@dbus_interface(dbus_ids.KICKSTART_MODULE_INTERFACE)
class KickstartModuleInterface(InterfaceTemplate):
    """What the installer calls on every kickstart module."""

    def connect_signals(self):
        super().connect_signals()
        self.watch_property("Kickstarted", self.implementation.kickstarted_changed)

    @property
    def KickstartCommands(self) -> List[Str]:
        """Kickstart commands this module handles (none)."""
        return self.implementation.kickstart_command_names

    @property
    def KickstartSections(self) -> List[Str]:
        """Kickstart sections this module handles (none)."""
        return self.implementation.kickstart_section_names

    @property
    def KickstartAddons(self) -> List[Str]:
        """Add-on sections this module handles: org_ovirt_node."""
        return self.implementation.kickstart_addon_names

    @property
    def Kickstarted(self) -> Bool:
        """Whether a kickstart set this module up."""
        return self.implementation.kickstarted

    @Kickstarted.setter
    @emits_properties_changed
    def Kickstarted(self, kickstarted: Bool):
        """Anaconda's UI sets it (e.g. false when a spoke changed the settings)."""
        self.implementation.kickstarted = kickstarted

    @emits_properties_changed
    def ReadKickstart(self, kickstart: Str) -> Structure:
        """Read KICKSTART; return a KickstartReport of errors and warnings."""
        return KickstartReport.to_structure(self.implementation.read_kickstart(kickstart))

    def GenerateKickstart(self) -> Str:
        """The module's part of the kickstart."""
        return self.implementation.generate_kickstart()

    def CollectRequirements(self) -> List[Structure]:
        """Packages the target needs: none, the image brings its whole system."""
        return []

    def SetLocale(self, locale: Str):
        """Accepted for the protocol; messages are not translated yet."""

    def ConfigureWithTasks(self) -> List[ObjPath]:
        """Tasks run before storage is created: verify a local image."""
        return self.implementation.configure_with_tasks()

    def ConfigureBootloaderWithTasks(self, kernel_versions: List[Str]) -> List[ObjPath]:
        """None: the node writes its own boot entries per layer."""
        return []

    def InstallWithTasks(self) -> List[ObjPath]:
        """Tasks run in "Configuring addons": make the installed thin root a node."""
        return self.implementation.install_with_tasks()

    def TeardownWithTasks(self) -> List[ObjPath]:
        """Tasks run at the end: none."""
        return []

    def Quit(self):
        """Shut the module down."""
        self.implementation.stop()


# What a change of the node settings changes.
NODE_PROPERTIES = ("ImageURL", "ImageChecksum", "VolumeGroup", "ThinPool",
                   "VolumeProfile", "VolumeSizes")


class NodeMembers:
    """Node settings and the computed layout, for the spokes.

    A mixin ahead of a KickstartModuleInterface in a class decorated with
    dbus_interface(dbus_ids.NODE_INTERFACE): dasbus publishes its members under
    that name. The implementation is a settings.NodeSettings. It also repeats
    the protocol under CONTRACT_INTERFACE, in the XML and in PropertiesChanged.
    """

    def __init__(self, implementation):
        super().__init__(implementation)
        # Per instance, after dasbus has read the class XML for its property
        # cache, which refuses a property published under two names.
        self.__dbus_xml__ = with_interface_alias(get_xml(type(self)),
                                                 dbus_ids.KICKSTART_MODULE_INTERFACE,
                                                 CONTRACT_INTERFACE)

    def flush_changes(self):
        """Emit PropertiesChanged under both names of the protocol."""
        for interface, changes in self._properties_changes.flush():
            self.PropertiesChanged(interface, changes, [])
            if interface == dbus_ids.KICKSTART_MODULE_INTERFACE:
                self.PropertiesChanged(CONTRACT_INTERFACE, changes, [])

    def connect_signals(self):
        super().connect_signals()
        self.implementation.settings_changed.connect(self._settings_changed)

    def _settings_changed(self):
        for name in NODE_PROPERTIES:
            self.report_changed_property(name)
        self.flush_changes()

    @property
    def ImageURL(self) -> Str:
        """Where the node image comes from (file:, http(s):, hd:, nfs:)."""
        return self.implementation.addon.image_url

    @property
    def ImageChecksum(self) -> Str:
        """"sha256:HEX", or empty when the image is not verified."""
        return self.implementation.addon.checksum

    def SetImage(self, url: Str, checksum: Str):
        """Set the image URL and its checksum together (checksum may be empty)."""
        self.implementation.set_image(url, checksum)

    @property
    def VolumeGroup(self) -> Str:
        """Name of the volume group (default onn)."""
        return self.implementation.addon.vg

    @property
    def ThinPool(self) -> Str:
        """Name of the thin pool (default pool00)."""
        return self.implementation.addon.pool

    def SetNames(self, volume_group: Str, thin_pool: Str):
        """Set the volume group and thin pool names."""
        self.implementation.set_names(volume_group, thin_pool)

    @property
    def VolumeProfile(self) -> Str:
        """nist, minimal or none."""
        return self.implementation.addon.volume_profile

    @VolumeProfile.setter
    def VolumeProfile(self, profile: Str):
        """Choosing a profile resets VolumeSizes to its defaults."""
        self.implementation.set_volume_profile(profile)

    @property
    def VolumeSizes(self) -> Dict[Str, UInt64]:
        """Separate volumes: mount point -> size in bytes."""
        return self.implementation.addon.volumes

    @VolumeSizes.setter
    def VolumeSizes(self, sizes: Dict[Str, UInt64]):
        """Replace the separate volumes."""
        self.implementation.set_volume_sizes(sizes)

    def Plan(self, disks: List[Str]) -> Structure:
        """The layout on DISKS with its problems (PlanData); reads the disks."""
        return PlanData.to_structure(self.implementation.plan(disks))


@dbus_interface(dbus_ids.NODE_INTERFACE)
class OvirtNodeInterface(NodeMembers, KickstartModuleInterface):
    """The protocol and the node members, on module.OvirtNodeModule."""


def with_interface_alias(xml, interface, alias):
    """XML with the <interface> block named INTERFACE repeated as ALIAS."""
    node = ET.fromstring(xml)
    for block in node.findall("interface"):
        if block.get("name") == interface:
            copy = ET.fromstring(ET.tostring(block))
            copy.set("name", alias)
            node.append(copy)
    return ET.tostring(node, encoding="unicode")
