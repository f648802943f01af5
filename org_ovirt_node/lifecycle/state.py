"""What the node remembers about its layers beyond LVM: kept on /boot.

/boot is the one place both GRUB and the node itself can reach, online and
offline, so the state lives there beside grubenv: how many images to keep
(from the install's --keep), which layers are pinned, which failed to boot,
and the last layer that booted and said so (`ovirt-node boot-ok`).
"""

import json
import os
from dataclasses import asdict, dataclass, field
from typing import List, Optional

from org_ovirt_node.constants import DEFAULT_KEEP
from org_ovirt_node.errors import NodeError
from org_ovirt_node.util.atomic import write_atomic

STATE_DIR = "ovirt-node"
STATE_FILE = "state.json"
_MAX_STATE_BYTES = 1 << 20


@dataclass
class NodeState:
    """The node's lifecycle memory; `to_dict()` is what status shows."""

    keep: int = DEFAULT_KEEP
    pinned: List[str] = field(default_factory=list)
    bad: List[str] = field(default_factory=list)
    last_known_good: Optional[str] = None

    def to_dict(self):
        """JSON-ready form."""
        return asdict(self)


def state_path(boot):
    """Where the state file lives on the /boot filesystem mounted at BOOT."""
    return os.path.join(boot, STATE_DIR, STATE_FILE)


def load_state(boot):
    """The node state on BOOT; defaults when none was recorded yet."""
    path = state_path(boot)
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read(_MAX_STATE_BYTES))
    except FileNotFoundError:
        return NodeState()
    except (OSError, ValueError) as error:
        raise NodeError(f"{path}: unreadable node state ({error})") from None
    if not isinstance(data, dict):
        raise NodeError(f"{path}: node state is not a JSON object")
    known = {key: data[key] for key in NodeState.__dataclass_fields__ if key in data}
    return NodeState(**known)


def record_install(boot, keep):
    """Start the node's memory at install: how many images gc keeps."""
    save_state(boot, NodeState(keep=keep))


def save_state(boot, state):
    """Write STATE to BOOT atomically."""
    text = json.dumps(state.to_dict(), indent=1, sort_keys=True) + "\n"
    write_atomic(state_path(boot), text.encode("utf-8"))
