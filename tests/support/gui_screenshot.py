"""Drive the node spoke's widgets in real GTK 3 and save a screenshot.

    python -m tests.support.gui_screenshot GLADE PNG

needs a display (the test runs it under Xvfb) and the add-on service on the
bus in DBUS_ANACONDA_SESSION_BUS_ADDRESS. Types an image URL, applies it,
picks the minimal profile, resizes /var, then prints what the widgets show
as JSON and writes PNG.
"""

import json
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, Gtk  # pylint: disable=wrong-import-position

from org_ovirt_node.gui.node_controller import NodeController  # noqa: E402
from org_ovirt_node.ui.installer import node_presenter  # noqa: E402
from tests.support.glade_content import CONTENT_ID, content_interface  # noqa: E402


def settle():
    while Gtk.events_pending():
        Gtk.main_iteration_do(False)


def main(glade, png):
    builder = Gtk.Builder()
    builder.add_from_string(content_interface(glade))
    controller = NodeController(builder, node_presenter())
    controller.refresh()
    window = Gtk.Window(title="oVirt Node")
    window.set_default_size(900, 760)
    window.add(builder.get_object(CONTENT_ID))
    window.show_all()
    settle()

    builder.get_object("imageUrlEntry").set_text("https://example.com/node.squashfs")
    builder.get_object("applyButton").clicked()
    builder.get_object("profileCombo").set_active_id("minimal")
    builder.get_object("sizeRenderer").emit("edited", "0", "7 GiB")
    builder.get_object("newMountEntry").set_text("/srv")
    builder.get_object("newSizeEntry").set_text("1 MiB")
    builder.get_object("addVolumeButton").clicked()
    for _ in range(20):
        settle()

    state = {
        "image_url": builder.get_object("imageUrlEntry").get_text(),
        "profile": builder.get_object("profileCombo").get_active_id(),
        "profile_text": builder.get_object("profileCombo").get_active_text(),
        "volumes": [list(row) for row in builder.get_object("volumeStore")],
        "problems": builder.get_object("problemsLabel").get_text(),
        "message": builder.get_object("messageLabel").get_text(),
        "complete": controller.view.complete,
        "mnemonics": {name: builder.get_object(name).get_mnemonic_widget().get_name()
                      for name in ("imageUrlLabel", "profileLabel")},
    }
    gdk_window = window.get_window()
    pixbuf = Gdk.pixbuf_get_from_window(gdk_window, 0, 0, gdk_window.get_width(),
                                        gdk_window.get_height())
    pixbuf.savev(png, "png", [], [])
    print(json.dumps(state))


if __name__ == "__main__":
    main(*sys.argv[1:3])
