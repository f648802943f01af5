"""The dasbus implementation of the kickstart-module protocol, free of D-Bus
wiring: what the installer asks of any module, on top of NodeSettings.

It mirrors what Anaconda's KickstartService does (kickstarted, tasks
published in a container, quit) so it can run where pyanaconda cannot; inside
the installer service.anaconda builds the same module on KickstartService.
"""

import os

from dasbus.server.container import DBusContainer
from dasbus.signal import Signal

from org_ovirt_node import dbus_ids
from org_ovirt_node.ks.section import ADDON_NAME
from org_ovirt_node.service.kickstart import read_kickstart_text
from org_ovirt_node.service.settings import NodeSettings
from org_ovirt_node.service.task import NodeTask
from org_ovirt_node.service.tasks import configure_work, install_work

# Where Anaconda mounts the system being installed (conf.target.system_root);
# OVIRT_NODE_SYSROOT points elsewhere for tests and other installers.
TARGET_ROOT = os.environ.get("OVIRT_NODE_SYSROOT", "/mnt/sysroot")


class OvirtNodeModule(NodeSettings):
    """What the installer and the spokes ask of the node add-on."""

    kickstart_command_names = []
    kickstart_section_names = []
    kickstart_addon_names = [ADDON_NAME]

    def __init__(self, message_bus, on_quit):
        super().__init__()
        self._tasks = DBusContainer(message_bus, dbus_ids.NAMESPACE,
                                    basename=dbus_ids.TASK_BASENAME)
        self._on_quit = on_quit
        self._kickstarted = False
        self.kickstarted_changed = Signal()

    @property
    def kickstarted(self):
        """Whether a kickstart set this module up."""
        return self._kickstarted

    @kickstarted.setter
    def kickstarted(self, value):
        self._kickstarted = value
        self.kickstarted_changed.emit()

    def read_kickstart(self, text):
        """Parse TEXT; adopt its section when it is valid. Returns a KickstartReport."""
        addon, report = read_kickstart_text(text)
        if addon is not None:
            self.kickstarted = True
            self.adopt(addon)
        return report

    def generate_kickstart(self):
        """The section as kickstart text; empty until an image is set."""
        return str(self.addon)

    def configure_with_tasks(self):
        """Object paths of the tasks to run before storage is created."""
        return self._publish(configure_work(self.addon))

    def install_with_tasks(self):
        """Object paths of the tasks run after the payload: adopt the root."""
        return self._publish(install_work(self.addon, TARGET_ROOT))

    def stop(self):
        """Leave the main loop; the process ends."""
        self._on_quit()

    def _publish(self, works):
        return self._tasks.to_object_path_list([NodeTask(work) for work in works])
