"""Fixtures for tests that talk to the add-on service on a private bus."""

import pytest
from dasbus.connection import AddressedMessageBus

from org_ovirt_node import dbus_ids
from tests.support.addon_service import private_bus, start_service, stop_service


@pytest.fixture(scope="module")
def bus_address(tmp_path_factory):
    """A private dbus-daemon, like Anaconda's bus."""
    with private_bus(tmp_path_factory.mktemp("bus")) as address:
        yield address


@pytest.fixture(scope="module")
def client(bus_address):
    """A connection to that bus, as the boss or a spoke has."""
    bus = AddressedMessageBus(bus_address)
    yield bus
    bus.disconnect()


@pytest.fixture
def service(bus_address, client, tmp_path):
    """A fresh service process per test, so tests never share state; yields its proxy."""
    process = start_service(bus_address, client, tmp_path / "service.log")
    proxy = client.get_proxy(dbus_ids.SERVICE_NAME, dbus_ids.OBJECT_PATH)
    yield proxy
    if process.poll() is None:
        stop_service(process, proxy)
