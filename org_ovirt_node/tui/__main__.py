"""Show the node text screen outside the installer: `python -m org_ovirt_node.tui`
with DBUS_ANACONDA_SESSION_BUS_ADDRESS naming a bus where the add-on service runs.
"""

import sys

from simpleline import App

from org_ovirt_node.errors import NodeError
from org_ovirt_node.tui.node_form import NodeScreen
from org_ovirt_node.ui.installer import node_presenter


def main():
    """Run the screen until the user leaves it; returns the exit status."""
    try:
        presenter = node_presenter()
    except NodeError as error:
        print(f"org_ovirt_node.tui: {error}", file=sys.stderr)
        return 1
    App.initialize()
    App.get_scheduler().schedule_screen(NodeScreen(presenter))
    App.run()
    return 0


sys.exit(main())
