"""The work the service offers as tasks, each a thin call into the engine.

Anaconda runs an add-on's configuration tasks before it touches storage, so a
bad or corrupt local image stops the install before any disk is written. Its
install tasks run in "Configuring addons", after the payload (liveimg) filled
the thin root: that is where the root becomes a node's base and layer.

The work is described, not wrapped: both implementations of the service (the
dasbus one's NodeTask and the Anaconda glue's Task) run the same Work, so what
a task does and when it is offered is decided here once.
"""

import os
from typing import Callable, NamedTuple, Tuple

from org_ovirt_node.errors import NodeError
from org_ovirt_node.image.checksum import sha256_file
from org_ovirt_node.install.options import InstallOptions
from org_ovirt_node.ks.url import parse_image_url


class Work(NamedTuple):
    """A task's name for people, its reporter step names in order (step n of
    the task is the n-th name) and RUN(reporter), which does the work."""

    name: str
    step_names: Tuple[str, ...]
    run: Callable


def configure_work(addon):
    """Work before storage is created: verify the image of the section ADDON
    when it is a local file; images fetched later are checked when fetched."""
    if not addon.image_url:
        return []
    url = parse_image_url(addon.image_url)
    if url.scheme != "file":
        return []
    path, checksum = url.path, addon.checksum

    def run(reporter):
        reporter.step("image", f"Looking for the node image {path}")
        if not os.path.isfile(path):
            raise NodeError(f"the node image {path} does not exist")
        reporter.step("checksum", f"Checking the node image {path}")
        if not checksum:
            reporter.info("no --checksum given; the image is not verified")
            return
        try:
            actual = "sha256:" + sha256_file(path, reporter)
        except OSError as error:
            raise NodeError(f"cannot read the node image {path}: {error.strerror}") from None
        if actual != checksum:
            raise NodeError(f"the node image {path} has checksum {actual}, "
                            f"but the kickstart says {checksum}")

    return [Work("Verify the node image", ("image", "checksum"), run)]


def install_work(addon, sysroot):
    """Work after the payload: make the thin root installed at SYSROOT a node
    (base + layer) with the volumes, sizes and names of the section ADDON."""
    if not addon.image_url:
        return []
    options = InstallOptions(disks=[], vg=addon.vg, pool=addon.pool, profile="none",
                             volume_sizes=dict(addon.volumes), fstype=addon.fstype,
                             keep=addon.keep)

    def run(reporter):
        options.validate_names()
        # Imported here: blivet is only needed once the install runs.
        from org_ovirt_node.install.adopt import adopt_root  # pylint: disable=import-outside-toplevel
        reporter.info(adopt_root(sysroot, options, reporter).summary())

    return [Work("Make the installed root an oVirt Node", ("check", "layer", "volumes", "boot"),
                 run)]
