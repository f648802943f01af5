"""Our own blivet instance, limited to the disks the user named.

Anaconda's storage process owns its blivet; the engine always makes its own
and lets it see only the target disks (exclusive_disks), so nothing else on
the machine can be planned onto or changed.
"""

import os

from blivet import Blivet
from blivet.callbacks import create_new_callbacks_register
from blivet.errors import StorageError

from org_ovirt_node.errors import NodeError


def open_storage(disk_paths):
    """Return (blivet, disks): a populated model of DISK_PATHS and their devices."""
    storage = Blivet()
    storage.exclusive_disks = [os.path.basename(os.path.realpath(path)) for path in disk_paths]
    try:
        storage.reset()
    except StorageError as error:
        raise NodeError(f"cannot read the disks: {error}") from None
    disks = []
    for path in disk_paths:
        device = storage.devicetree.get_device_by_path(os.path.realpath(path))
        if device is None:
            raise NodeError(f"blivet does not see {path} as a device")
        if not device.is_disk:
            raise NodeError(f"{path} is a {device.type} device, not a disk: the layout is "
                            "made on whole disks only (in a VM, attach a disk image instead)")
        disks.append(device)
    return storage, disks


def execute(storage, reporter):
    """Run the scheduled blivet actions, reporting each one as it starts."""
    def on_progress(data):
        reporter.info(data.msg)

    def on_format(data):
        reporter.info(data.msg)

    callbacks = create_new_callbacks_register(
        create_format_pre=on_format, report_progress=on_progress)
    try:
        storage.do_it(callbacks=callbacks)
    except StorageError as error:
        raise NodeError(f"creating the layout failed: {error}") from None
