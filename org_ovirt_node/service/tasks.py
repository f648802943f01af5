"""The work the service offers as tasks, each a thin call into the engine.

Anaconda runs an add-on's configuration tasks before it touches storage, so a
bad or corrupt local image stops the install before any disk is written. Its
install tasks run in "Configuring addons", after the payload (liveimg) filled
the thin root: that is where the root becomes a node's base and layer.
"""

import os

from org_ovirt_node.errors import NodeError
from org_ovirt_node.image.checksum import sha256_file
from org_ovirt_node.install.options import InstallOptions
from org_ovirt_node.ks.url import parse_image_url
from org_ovirt_node.service.task import NodeTask


def verify_image_task(image_url, checksum):
    """A task checking that the file: image exists and matches CHECKSUM
    ("" or "sha256:HEX"); None for images that are not local files (they are
    checked when they are fetched)."""
    url = parse_image_url(image_url)
    if url.scheme != "file":
        return None

    def work(reporter):
        reporter.step("image", f"Looking for the node image {url.path}")
        if not os.path.isfile(url.path):
            raise NodeError(f"the node image {url.path} does not exist")
        reporter.step("checksum", f"Checking the node image {url.path}")
        if not checksum:
            reporter.info("no --checksum given; the image is not verified")
            return
        try:
            actual = "sha256:" + sha256_file(url.path, reporter)
        except OSError as error:
            raise NodeError(f"cannot read the node image {url.path}: {error.strerror}") from None
        if actual != checksum:
            raise NodeError(f"the node image {url.path} has checksum {actual}, "
                            f"but the kickstart says {checksum}")

    return NodeTask("Verify the node image", ("image", "checksum"), work)


def adopt_root_task(addon, sysroot):
    """A task making the thin root installed at SYSROOT a node (base + layer),
    with the volumes, sizes and names of the section ADDON."""
    options = InstallOptions(disks=[], vg=addon.vg, pool=addon.pool, profile="none",
                             volume_sizes=dict(addon.volumes), fstype=addon.fstype)

    def work(reporter):
        options.validate_names()
        # Imported here: blivet is only needed once the install runs.
        from org_ovirt_node.install.adopt import adopt_root  # pylint: disable=import-outside-toplevel
        reporter.info(adopt_root(sysroot, options, reporter).summary())

    return NodeTask("Make the installed root an oVirt Node", ("check", "layer", "volumes",
                                                              "boot"), work)
