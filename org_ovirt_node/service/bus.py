"""Which bus the service joins, and the connection to it.

Anaconda runs its modules on a private bus and tells them its address in the
environment (see dbus_ids.BUS_ADDRESS_VARIABLES); the service never falls back
to the user's session bus, where it would answer nobody.
"""

import os

from dasbus.connection import AddressedMessageBus
from dasbus.error import ErrorMapper, ErrorRule

from org_ovirt_node import dbus_ids
from org_ovirt_node.errors import NodeError


def bus_address(environ=None):
    """The address of Anaconda's bus from ENVIRON, or NodeError if none is set."""
    environ = os.environ if environ is None else environ
    for variable in dbus_ids.BUS_ADDRESS_VARIABLES:
        if environ.get(variable):
            return environ[variable]
    raise NodeError("no D-Bus address: set " + " or ".join(dbus_ids.BUS_ADDRESS_VARIABLES))


def node_error_rule():
    """NodeError as a named D-Bus error, so callers get its one-line message
    (the Anaconda glue adds it to Anaconda's mapper)."""
    return ErrorRule(exception_type=NodeError, error_name=dbus_ids.NODE_ERROR)


class NoResultError(NodeError):
    """Task.GetResult of a task that has no result (all of the node's)."""


def error_mapper():
    """The service's error mapping: NodeError and Anaconda's NoResultError by name."""
    mapper = ErrorMapper()
    mapper.add_rule(node_error_rule())
    # Added last, so it is tried before the rule of its base class.
    mapper.add_rule(ErrorRule(exception_type=NoResultError,
                              error_name=dbus_ids.NO_RESULT_ERROR))
    return mapper


def connect(address):
    """A message bus connected to ADDRESS with the service's error mapping."""
    return AddressedMessageBus(address, error_mapper=error_mapper())
