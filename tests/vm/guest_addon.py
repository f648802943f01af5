"""Runs inside the VM: drives the add-on service the way Anaconda's boss does.

Starts a private dbus-daemon and the service (pointed at SYSROOT), reads the
kickstart, runs every install task and records their signals into
OUTDIR/NAME as JSON for the host-side tests.
Usage: python3 guest_addon.py KICKSTART SYSROOT OUTDIR NAME
"""

import json
import pathlib
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from dasbus.connection import AddressedMessageBus  # noqa: E402
from dasbus.error import DBusError  # noqa: E402
from dasbus.typing import get_native  # noqa: E402

from org_ovirt_node import dbus_ids  # noqa: E402
from tests.support.addon_service import (private_bus, run_task, start_service,  # noqa: E402
                                         stop_service)

INSTALL_TIMEOUT = 1800   # blivet and mkfs under TCG emulation are slow


def main(kickstart, sysroot, outdir, name):
    os.environ["OVIRT_NODE_SYSROOT"] = sysroot
    record = {"tasks": []}
    with tempfile.TemporaryDirectory() as directory, private_bus(directory) as address:
        client = AddressedMessageBus(address)
        log = pathlib.Path(outdir, name + ".service.log")
        process = start_service(address, client, log)
        proxy = client.get_proxy(dbus_ids.SERVICE_NAME, dbus_ids.OBJECT_PATH)
        with open(kickstart, encoding="utf-8") as handle:
            record["report"] = get_native(proxy.ReadKickstart(handle.read()))
        for path in proxy.InstallWithTasks():
            task, events = run_task(client, path, timeout=INSTALL_TIMEOUT)
            finish_error = None
            try:
                task.Finish()
            except DBusError as error:
                finish_error = str(error)
            record["tasks"].append({"name": task.Name, "events": events,
                                    "finish_error": finish_error})
        stop_service(process, proxy)
        client.disconnect()
    with open(os.path.join(outdir, name), "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:5])
