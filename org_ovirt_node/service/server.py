"""Bring the service up on Anaconda's bus and keep it there until Quit."""

import sys

from dasbus.loop import EventLoop
from gi.repository import GLib

from org_ovirt_node import dbus_ids
from org_ovirt_node.errors import NodeError
from org_ovirt_node.service.bus import bus_address, connect
from org_ovirt_node.service.interface import OvirtNodeInterface
from org_ovirt_node.service.module import OvirtNodeModule


def serve(address):
    """Publish the module on the bus at ADDRESS, own the service name, and
    run the main loop until Quit."""
    bus = connect(address)
    loop = EventLoop()
    try:
        module = OvirtNodeModule(bus, on_quit=loop.quit)
        bus.publish_object(dbus_ids.OBJECT_PATH, OvirtNodeInterface(module))
        bus.register_service(dbus_ids.SERVICE_NAME)
        loop.run()
    finally:
        bus.disconnect()


def main(environ=None):
    """Entry point of `python3 -m org_ovirt_node.service`; returns the exit status."""
    try:
        address = bus_address(environ)
    except NodeError as error:
        print(f"org_ovirt_node.service: {error}", file=sys.stderr)
        return 1
    try:
        serve(address)
    except GLib.Error as error:
        # No bus at that address, or the name is taken: say so in one line.
        print(f"org_ovirt_node.service: {address}: {error.message}", file=sys.stderr)
        return 1
    return 0
