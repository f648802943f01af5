"""The node spoke in Anaconda's graphical UI: glue only.

The widgets are in ovirt_node.glade, their behaviour in gui.node_controller
and the logic in ui.presenter, none of which imports pyanaconda.
"""

from pyanaconda.ui.categories.system import SystemCategory
from pyanaconda.ui.gui.spokes import NormalSpoke

from org_ovirt_node.gui.node_controller import NodeController
from org_ovirt_node.ui.i18n import DOMAIN, N_, TranslatedText
from org_ovirt_node.ui.installer import node_presenter

__all__ = ["OvirtNodeSpoke"]


class OvirtNodeSpoke(NormalSpoke):
    """Image, volume profile and sizes of the node; done when the layout fits."""

    builderObjects = ["ovirtNodeSpokeWindow", "volumeStore", "layoutStore"]
    mainWidgetName = "ovirtNodeSpokeWindow"
    uiFile = "ovirt_node.glade"
    # The builder translates the glade strings in the add-on's own domain.
    translationDomain = DOMAIN
    category = SystemCategory
    icon = "drive-harddisk-symbolic"
    # Read by the hub when it is built, after the language was chosen.
    title = TranslatedText(N_("_OVIRT NODE"))

    @staticmethod
    def get_screen_id():
        """The id Anaconda's user-interaction config knows this spoke by."""
        return "ovirt-node-configuration"

    def initialize(self):
        super().initialize()
        self._controller = NodeController(self.builder, node_presenter())
        self._controller.refresh()

    def refresh(self):
        super().refresh()
        self._controller.refresh()

    def apply(self):
        """Nothing to apply: every change went to the service when it was made."""

    @property
    def completed(self):
        return self._controller.view.complete

    @property
    def status(self):
        return self._controller.view.status
