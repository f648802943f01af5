"""The work the service offers as tasks, each a thin call into the engine.

Anaconda runs an add-on's configuration tasks before it touches storage, so a
bad, corrupt or badly signed local image stops the install before any disk is
written. Its signature is checked against the installer's own trust store
(/etc/ovirt-node, as on a node) plus the section's --trust-key (trust.py). Its
install tasks run in "Configuring addons", after the payload (liveimg) filled
the thin root: that is where the root becomes a node's base and layer.

The work is described, not wrapped: both implementations of the service (the
dasbus one's NodeTask and the Anaconda glue's Task) run the same Work, so what
a task does and when it is offered is decided here once.
"""

import os
from typing import Callable, NamedTuple, Tuple

from org_ovirt_node import trust
from org_ovirt_node.errors import NodeError
from org_ovirt_node.image import signature
from org_ovirt_node.image.checksum import sha256_file
from org_ovirt_node.install.options import InstallOptions
from org_ovirt_node.lifecycle import state
from org_ovirt_node.ks.url import parse_image_url


class Work(NamedTuple):
    """A task's name for people, its reporter step names in order (step n of
    the task is the n-th name) and RUN(reporter), which does the work."""

    name: str
    step_names: Tuple[str, ...]
    run: Callable


def configure_work(addon):
    """Work before storage is created: verify the image of the section ADDON
    (checksum, then signature) when it is a local file; images fetched later
    are checked when fetched."""
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
        if checksum:
            _check_sum(path, checksum, reporter)
        else:
            reporter.info("no --checksum given; the checksum is not verified")
        reporter.step("signature", f"Checking the signature of {path}")
        signer = signature.check(path, trust.load(extra_key=addon.trust_key or None), reporter)
        if signer:
            reporter.info(f"signed by {signature.describe_signer(signer)}")

    return [Work("Verify the node image", ("image", "checksum", "signature"), run)]


def _check_sum(path, checksum, reporter):
    """Raise NodeError unless the image at PATH has CHECKSUM ("sha256:HEX")."""
    try:
        actual = "sha256:" + sha256_file(path, reporter)
    except OSError as error:
        raise NodeError(f"cannot read the node image {path}: {error.strerror}") from None
    if actual != checksum:
        raise NodeError(f"the node image {path} has checksum {actual}, "
                        f"but the kickstart says {checksum}")


def _record_signer(addon, boot, nvr):
    """Keep in the new node's state who signed its first image, as install and
    update do. The configure task verified the local image already; this
    checks it again quietly (gpgv is quick) rather than carry state between
    the tasks. Images the add-on does not check (not file:) are not recorded."""
    url = parse_image_url(addon.image_url)
    if url.scheme != "file" or not os.path.isfile(url.path):
        return
    store = trust.load(extra_key=addon.trust_key or None)
    signer = signature.check(url.path, store)
    node_state = state.load_state(boot)
    node_state.remember_signature(nvr, signer, store.policy)
    state.save_state(boot, node_state)


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
        result = adopt_root(sysroot, options, reporter)
        _record_signer(addon, os.path.join(sysroot, "boot"), result.nvr)
        reporter.info(result.summary())

    return [Work("Make the installed root an oVirt Node", ("check", "layer", "volumes", "boot"),
                 run)]
