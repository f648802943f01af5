"""The node spoke in Anaconda's text UI: glue only.

Anaconda imports this module from /usr/share/anaconda/addons; the form and
its logic live in tui.node_form and ui.presenter, which run without pyanaconda.
"""

from pyanaconda.ui.categories.system import SystemCategory
from pyanaconda.ui.tui.spokes import NormalTUISpoke
from pyanaconda.ui.tui.tuiobject import Dialog
from simpleline.render.screen import InputState

from org_ovirt_node.tui.node_form import TITLE, NodeTextForm
from org_ovirt_node.ui.i18n import TranslatedText
from org_ovirt_node.ui.installer import node_presenter

__all__ = ["OvirtNodeSpoke"]


class OvirtNodeSpoke(NormalTUISpoke):
    """Image, volume profile and sizes of the node; done when the layout fits."""

    category = SystemCategory
    # Read in the language chosen by then, wherever Anaconda shows it
    # (simpleline's window reads _title).
    title = _title = TranslatedText(TITLE)

    @staticmethod
    def get_screen_id():
        """The id Anaconda's user-interaction config knows this spoke by."""
        return "ovirt-node-configuration"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._form = NodeTextForm(node_presenter(), lambda prompt: Dialog(prompt).run())
        self._form.refresh()

    def refresh(self, args=None):
        super().refresh(args)
        self._form.refresh()
        self._form.fill(self.window)

    def input(self, args, key):
        if self._form.process(key):
            return InputState.PROCESSED_AND_REDRAW
        return super().input(args, key)

    def apply(self):
        """Nothing to apply: every change went to the service when it was made."""

    @property
    def completed(self):
        return self._form.view.complete

    @property
    def status(self):
        return self._form.view.status
