"""Our own blivet instance, limited to the disks the user named.

Anaconda's storage process owns its blivet; the engine always makes its own
and lets it see only the target disks (exclusive_disks), so nothing else on
the machine can be planned onto or changed.
"""

import os
import re

from blivet import Blivet
from blivet.callbacks import create_new_callbacks_register
from blivet.errors import StorageError

from org_ovirt_node.errors import NodeError


def no_lvm_log_file():
    """Keep blivet from having every lvm command append to /tmp/lvm.log.

    blivet 3.x passes `log {level=7 file=/tmp/lvm.log}` to each LVM call it
    makes through libblockdev (devicelibs/lvm.py _set_global_config), so
    every run, a dry run too, grows that file. The same config is kept
    without the log section; errors still reach us through the calls.
    """
    from blivet.devicelibs import lvm as blivet_lvm  # pylint: disable=import-outside-toplevel
    original = getattr(blivet_lvm, "_set_global_config", None)
    if original is None or getattr(original, "without_log_file", False):
        return
    blockdev = blivet_lvm.blockdev

    def set_global_config():
        original()
        try:
            config = blockdev.lvm.get_global_config() or ""
        except Exception:  # pylint: disable=broad-except
            return
        blockdev.lvm.set_global_config(_LOG_SECTION.sub(" ", config))

    set_global_config.without_log_file = True
    blivet_lvm._set_global_config = set_global_config  # pylint: disable=protected-access
    set_global_config()


_LOG_SECTION = re.compile(r"\blog\s*\{[^}]*\}")


def open_storage(disk_paths):
    """Return (blivet, disks): a populated model of DISK_PATHS and their devices."""
    no_lvm_log_file()
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
