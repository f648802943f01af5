"""Where a spoke finds the add-on service and the installer's disk choice.

Both are on Anaconda's bus, whose address the installer puts in the
environment of its UI process as it does for its modules; the disk choice is
the storage module's DiskSelection, read each time the layout is planned.
Plain D-Bus names, so this runs outside the installer too.
"""

from dasbus.connection import AddressedMessageBus
from dasbus.error import DBusError

from org_ovirt_node import dbus_ids
from org_ovirt_node.service.bus import bus_address
from org_ovirt_node.ui.presenter import NodePresenter

STORAGE_SERVICE = "org.fedoraproject.Anaconda.Modules.Storage"
DISK_SELECTION_PATH = "/org/fedoraproject/Anaconda/Modules/Storage/DiskSelection"
DISK_SELECTION_INTERFACE = "org.fedoraproject.Anaconda.Modules.Storage.DiskSelection"


def node_presenter(environ=None):
    """A NodePresenter on the add-on service of the bus named in ENVIRON."""
    bus = AddressedMessageBus(bus_address(environ))
    service = bus.get_proxy(dbus_ids.SERVICE_NAME, dbus_ids.OBJECT_PATH)
    disk_selection = bus.get_proxy(STORAGE_SERVICE, DISK_SELECTION_PATH,
                                   interface_name=DISK_SELECTION_INTERFACE)
    return NodePresenter(service, lambda: selected_disks(disk_selection))


def selected_disks(disk_selection):
    """Paths of the disks chosen in the installer; none while storage is not
    running (the layout then says that no disk is chosen)."""
    try:
        names = disk_selection.SelectedDisks
    except DBusError:
        return []
    return ["/dev/" + name for name in names]
