"""What the node remembers about its layers beyond LVM: kept on /boot.

/boot is the one place both GRUB and the node itself can reach, online and
offline, so the state lives there beside grubenv: how many images to keep
(from the install's --keep), which layers are pinned, which failed to boot,
and the last layer that booted and said so (`ovirt-node boot-ok`). It also
keeps each image's os-release, read when the image was deployed, so status
can name every layer's OS without activating and mounting it, and each
layer's image kernel arguments (its image's /etc/kernel/cmdline, recorded
when the layer was made; lifecycle/kargs.py derives the local changes from
them and the layer's boot entries). And who signed each image, as checked
when it was deployed (image/signature.py), with the policy then in force:
`signatures` is absent from state files written before, which read as "not
recorded".
"""

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

from org_ovirt_node.constants import DEFAULT_KEEP
from org_ovirt_node.errors import NodeError
from org_ovirt_node.util.atomic import write_atomic
from org_ovirt_node.util.jsonfile import read_json

STATE_DIR = "ovirt-node"
STATE_FILE = "state.json"
_MAX_STATE_BYTES = 1 << 20
# what status shows of an image's os-release
OS_RELEASE_KEYS = ("ID", "NAME", "VERSION", "VERSION_ID", "PRETTY_NAME")


@dataclass
class NodeState:
    """The node's lifecycle memory; `to_dict()` is what status shows."""

    keep: int = DEFAULT_KEEP
    pinned: List[str] = field(default_factory=list)
    bad: List[str] = field(default_factory=list)
    last_known_good: Optional[str] = None
    images: Dict[str, Dict[str, str]] = field(default_factory=dict)
    image_kargs: Dict[str, List[str]] = field(default_factory=dict)
    # nvr -> {"signed_by": {fingerprint, uid, ...} or None, "policy": require|warn|off}
    signatures: Dict[str, dict] = field(default_factory=dict)
    # layer -> [{"name", "version", "manager", "action", ...}] an update carried into it
    persisted: Dict[str, List[dict]] = field(default_factory=dict)

    def to_dict(self):
        """JSON-ready form."""
        return asdict(self)

    def remember_image(self, nvr, os_release, signed_by=None, policy=None):
        """Keep what image NVR's os-release (a dict) says, for status; and,
        when its signature was checked (POLICY set), who signed it."""
        self.images[nvr] = {key: os_release[key] for key in OS_RELEASE_KEYS
                            if key in os_release}
        if policy is not None:
            self.remember_signature(nvr, signed_by, policy)

    def remember_signature(self, nvr, signed_by, policy):
        """Keep who signed image NVR (a signer dict or None) under POLICY, for status."""
        self.signatures[nvr] = {"signed_by": signed_by, "policy": policy}

    def remember_kargs(self, layer, args):
        """Keep LAYER's image kernel arguments (a list), for kargs and status."""
        self.image_kargs[layer] = list(args)

    def remember_persisted(self, layer, packages):
        """Keep which package changes the update carried into LAYER (lifecycle/persist.py)."""
        self.persisted[layer] = [dict(item) for item in packages]

    def forget_missing(self, layers, bases):
        """Drop bad LAYERS and images (BASES) that no longer exist; True if any went."""
        bad = [layer for layer in self.bad if layer in layers]
        images = {nvr: facts for nvr, facts in self.images.items() if nvr in bases}
        kargs = {layer: args for layer, args in self.image_kargs.items() if layer in layers}
        signatures = {nvr: facts for nvr, facts in self.signatures.items() if nvr in bases}
        persisted = {layer: items for layer, items in self.persisted.items() if layer in layers}
        changed = bad != self.bad or images != self.images or kargs != self.image_kargs \
            or signatures != self.signatures or persisted != self.persisted
        self.bad, self.images, self.image_kargs = bad, images, kargs
        self.signatures, self.persisted = signatures, persisted
        return changed


def state_path(boot):
    """Where the state file lives on the /boot filesystem mounted at BOOT."""
    return os.path.join(boot, STATE_DIR, STATE_FILE)


def load_state(boot):
    """The node state on BOOT; defaults when none was recorded yet."""
    path = state_path(boot)
    data = read_json(path, "node state", _MAX_STATE_BYTES)
    if data is None:
        return NodeState()
    if not isinstance(data, dict):
        raise NodeError(f"{path}: node state is not a JSON object")
    known = {key: data[key] for key in NodeState.__dataclass_fields__ if key in data}
    known["images"] = _images(known.get("images"))
    known["image_kargs"] = _image_kargs(known.get("image_kargs"))
    known["signatures"] = _signatures(known.get("signatures"))
    known["persisted"] = _persisted(known.get("persisted"))
    return NodeState(**known)


def _image_kargs(value):
    """The per-layer image kernel arguments as recorded; a malformed record is dropped
    (the layer's base is read instead)."""
    if not isinstance(value, dict):
        return {}
    return {layer: list(args) for layer, args in value.items()
            if isinstance(args, list) and all(isinstance(arg, str) for arg in args)}


def _persisted(value):
    """The per-layer persisted packages as recorded, only text fields kept (only shown)."""
    if not isinstance(value, dict):
        return {}
    return {layer: [{key: text for key, text in item.items() if isinstance(text, str)}
                    for item in items if isinstance(item, dict)]
            for layer, items in value.items() if isinstance(items, list)}


def _signatures(value):
    """The recorded signers, without what is not shaped as one (it is only shown)."""
    if not isinstance(value, dict):
        return {}
    kept = {}
    for nvr, facts in value.items():
        if not isinstance(facts, dict) or facts.get("policy") not in ("require", "warn", "off"):
            continue
        signer = facts.get("signed_by")
        if isinstance(signer, dict):
            signer = {key: text for key, text in signer.items() if isinstance(text, str)}
        kept[nvr] = {"signed_by": signer if isinstance(signer, dict) else None,
                     "policy": facts["policy"]}
    return kept


def _images(value):
    """The images map as recorded, without what is not text (it is only shown)."""
    if not isinstance(value, dict):
        return {}
    return {nvr: {key: text for key, text in facts.items()
                  if key in OS_RELEASE_KEYS and isinstance(text, str)}
            for nvr, facts in value.items() if isinstance(facts, dict)}


def record_install(boot, keep, nvr, os_release, layer=None, image_kargs=None,
                   signed_by=None, policy=None):
    """Start the node's memory at install: how many images gc keeps, the first image
    (its signer when checked, and its layer's image kernel arguments)."""
    state = NodeState(keep=keep)
    state.remember_image(nvr, os_release, signed_by, policy)
    if layer is not None and image_kargs is not None:
        state.remember_kargs(layer, image_kargs)
    save_state(boot, state)


def save_state(boot, state):
    """Write STATE to BOOT atomically."""
    text = json.dumps(state.to_dict(), indent=1, sort_keys=True) + "\n"
    write_atomic(state_path(boot), text.encode("utf-8"))
