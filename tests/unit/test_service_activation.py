"""data/: the activation file and bus policy, loaded by a real dbus-daemon
that starts the service on first call, as Anaconda's bus does."""

import configparser
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from dasbus.connection import AddressedMessageBus

from org_ovirt_node import dbus_ids

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "data")
SERVICE_FILE = os.path.join(DATA, dbus_ids.SERVICE_NAME + ".service")
POLICY_FILE = os.path.join(DATA, dbus_ids.SERVICE_NAME + ".conf")
CALL_TIMEOUT_MS = 120_000


def read_service_file(path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    return parser["D-BUS Service"]


def test_activation_file_starts_the_module_the_anaconda_way():
    entry = read_service_file(SERVICE_FILE)
    assert entry["Name"] == dbus_ids.SERVICE_NAME
    assert entry["Exec"] == "/usr/libexec/anaconda/start-module org_ovirt_node.service"
    assert entry["User"] == "root"


def test_policy_lets_only_root_own_the_name():
    root = ET.parse(POLICY_FILE).getroot()
    rules = {(policy.attrib.get("user") or policy.attrib.get("context"), rule.tag,
              tuple(rule.attrib.items())) for policy in root for rule in policy}
    assert ("root", "allow", (("own", dbus_ids.SERVICE_NAME),)) in rules
    assert ("default", "deny", (("own", dbus_ids.SERVICE_NAME),)) in rules
    assert ("default", "allow", (("send_destination", dbus_ids.SERVICE_NAME),)) in rules


@pytest.fixture
def activating_bus(tmp_path):
    """A dbus-daemon that knows the service only through data/ (the Exec line
    points at this Python, since start-module belongs to Anaconda)."""
    services = tmp_path / "services"
    services.mkdir()
    entry = read_service_file(SERVICE_FILE)
    (services / os.path.basename(SERVICE_FILE)).write_text(
        "[D-BUS Service]\n"
        f"Name={entry['Name']}\n"
        f"Exec={sys.executable} -m {entry['Exec'].split()[-1]}\n", encoding="utf-8")
    config = tmp_path / "bus.conf"
    config.write_text(f"""<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={tmp_path}/socket</listen>
  <servicedir>{services}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
  <include>{POLICY_FILE}</include>
</busconfig>
""", encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": ROOT}
    daemon = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--print-address",
                               "--nofork"], stdout=subprocess.PIPE, text=True, env=env)
    address = daemon.stdout.readline().strip()
    assert address, "dbus-daemon printed no address"
    bus = AddressedMessageBus(address)
    yield bus
    bus.disconnect()
    daemon.terminate()
    daemon.wait(timeout=30)


def test_first_call_activates_the_service(activating_bus):
    """The activated service finds the bus through DBUS_STARTER_ADDRESS."""
    assert not activating_bus.proxy.NameHasOwner(dbus_ids.SERVICE_NAME)
    module = activating_bus.get_proxy(dbus_ids.SERVICE_NAME, dbus_ids.OBJECT_PATH,
                                      interface_name=dbus_ids.KICKSTART_MODULE_INTERFACE)
    assert module.GenerateKickstart(timeout=CALL_TIMEOUT_MS) == ""
    assert activating_bus.proxy.NameHasOwner(dbus_ids.SERVICE_NAME)
    module.Quit()
