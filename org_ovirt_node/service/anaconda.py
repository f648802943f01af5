"""The node module on Anaconda's own base classes: glue only.

Inside the installer the service is built the way Anaconda's add-ons are: a
KickstartService published on Anaconda's DBus, reading its section through
Anaconda's kickstart specification and handing the boss Anaconda Task objects.
Everything it does comes from modules that never import pyanaconda and are
tested without it: the section (ks.section.NodeAddonData), the settings
(settings.NodeSettings), the work (tasks) and how it runs (task.run_work), and
the node members of the interface (interface.NodeMembers). Outside the
installer server.py speaks the same protocol with dasbus alone.
"""

from pyanaconda.modules.common import init

init()  # Anaconda's modules set up logging and locale before the rest is imported.

# pylint: disable=wrong-import-position
from dasbus.server.interface import dbus_interface
from pyanaconda.core.configuration.anaconda import conf
from pyanaconda.core.dbus import DBus, error_mapper
from pyanaconda.core.kickstart import KickstartSpecification
from pyanaconda.core.kickstart.addon import AddonData
from pyanaconda.modules.common.base import (
    KickstartModuleInterface,
    KickstartService,
)
from pyanaconda.modules.common.containers import TaskContainer
from pyanaconda.modules.common.task import Task

from org_ovirt_node import dbus_ids
from org_ovirt_node.ks.section import ADDON_NAME, NodeAddonData
from org_ovirt_node.service.bus import node_error_rule
from org_ovirt_node.service.interface import NodeMembers
from org_ovirt_node.service.kickstart import name_anaconda_lines
from org_ovirt_node.service.settings import NodeSettings
from org_ovirt_node.service.task import run_work
from org_ovirt_node.service.tasks import configure_work, install_work


class NodeSection(AddonData):
    """Anaconda's AddonData for the section; NodeAddonData does the parsing."""

    def __init__(self):
        super().__init__()
        self.data = NodeAddonData()

    def handle_header(self, args, line_number=None):
        self.data.handle_header(args, line_number)

    def handle_line(self, line, line_number=None):
        self.data.handle_line(line, line_number)

    def handle_end(self):
        self.data.handle_end()

    def __str__(self):
        return str(self.data)


class NodeKickstartSpecification(KickstartSpecification):
    """The module claims only its add-on section."""

    addons = {ADDON_NAME: NodeSection}


class EngineTask(Task):
    """An Anaconda Task running a tasks.Work as NodeTask does (same reporter,
    cancellation and failure text)."""

    def __init__(self, work):
        super().__init__()
        self._work = work

    @property
    def name(self):
        return self._work.name

    @property
    def steps(self):
        return len(self._work.step_names)

    @property
    def step_names(self):
        """Read by TaskReporter to number the steps."""
        return self._work.step_names

    @property
    def cancel_requested(self):
        """Read by TaskReporter at every progress report."""
        return self.check_cancel()

    def report(self, step, message):
        """Called by TaskReporter and run_work."""
        self.report_progress(message, step_number=step)

    def run(self):
        failure = run_work(self, self._work.run)
        if failure:
            raise failure


class NodeService(NodeSettings, KickstartService):
    """The node module as Anaconda's boss and spokes see any module."""

    def publish(self):
        error_mapper.add_rule(node_error_rule())
        TaskContainer.set_namespace(dbus_ids.NAMESPACE)
        DBus.publish_object(dbus_ids.OBJECT_PATH, NodeInterface(self))
        DBus.register_service(dbus_ids.SERVICE_NAME)

    @property
    def kickstart_specification(self):
        return NodeKickstartSpecification

    def read_kickstart(self, s):
        """Anaconda's reading, each message at its true line and naming it
        (the boss reports every line of the section at its header)."""
        report = super().read_kickstart(s)
        name_anaconda_lines(s, report.get_messages())
        return report

    def process_kickstart(self, data):
        section = getattr(data.addons, ADDON_NAME).data
        if section.seen:
            self.adopt(section)

    def setup_kickstart(self, data):
        getattr(data.addons, ADDON_NAME).data = self.addon

    def configure_with_tasks(self):
        return [EngineTask(work) for work in configure_work(self.addon)]

    def install_with_tasks(self):
        return [EngineTask(work) for work in install_work(self.addon, conf.target.system_root)]


@dbus_interface(dbus_ids.NODE_INTERFACE)
class NodeInterface(NodeMembers, KickstartModuleInterface):
    """Anaconda's kickstart-module interface with the node members."""


def main():
    """Run the module until the boss calls Quit; returns the exit status."""
    NodeService().run()
    return 0
