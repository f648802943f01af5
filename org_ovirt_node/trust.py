"""The node's trust store: which keys may sign images, and what happens if none did.

A `.sha256` beside an image proves nothing about who made it, so install,
update and the add-on check a detached OpenPGP signature (image/signature.py)
against the keys an administrator put here:

    /etc/ovirt-node/trusted.d/*.asc|*.gpg   public keys, armored or binary
    /etc/ovirt-node/policy.conf             signatures = require | warn | off

Without policy.conf the policy is `require` as soon as trusted.d holds a key,
and `off` while it holds none: a node image that ships a key enforces it, and
a machine that never set up trust keeps working as before. ROOT ("/") is a
parameter so tests and the installer (whose trust root is its own /etc plus
the key the kickstart names) can point elsewhere.
"""

import os
import re
from dataclasses import dataclass, field
from typing import List, Optional

from org_ovirt_node.errors import NodeError
from org_ovirt_node.util import safeio

TRUST_DIR = "etc/ovirt-node/trusted.d"
POLICY_FILE = "etc/ovirt-node/policy.conf"
POLICIES = ("require", "warn", "off")
# The root the trust paths are under when a caller names none (tests point it elsewhere).
ROOT = "/"
KEY_SUFFIXES = (".asc", ".gpg")
FINGERPRINT = re.compile(r"[0-9A-Fa-f]{40}")
_POLICY_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*")


@dataclass
class Trust:
    """What to check an image against.

    keys: public key files (gpgv keyrings once dearmored); fingerprint: when
    set, only a signature by this key (primary or signing subkey) counts;
    policy: require, warn or off; origin: where the policy came from, said in
    messages ("/etc/ovirt-node/policy.conf", "default: 1 trusted key").
    """

    policy: str
    keys: List[str] = field(default_factory=list)
    fingerprint: Optional[str] = None
    origin: str = ""


def trust_dir(root=None):
    """The trusted.d folder under ROOT."""
    return os.path.join(ROOT if root is None else root, TRUST_DIR)


def policy_path(root=None):
    """policy.conf under ROOT."""
    return os.path.join(ROOT if root is None else root, POLICY_FILE)


def key_files(path):
    """The key files PATH names: a folder's *.asc and *.gpg (sorted), or PATH itself."""
    if os.path.isdir(path):
        try:
            names = sorted(os.listdir(path))
        except OSError as error:
            raise NodeError(f"{path}: cannot list the trusted keys: {error.strerror}") from None
        return [os.path.join(path, name) for name in names
                if name.endswith(KEY_SUFFIXES) and os.path.isfile(os.path.join(path, name))]
    if os.path.lexists(path):
        safeio.check_input_file(path, "key file")
        return [path]
    return []


def read_policy(path):
    """The `signatures` value of policy file PATH, or None when the file is absent.

    One error naming PATH:LINE for anything but `signatures = require|warn|off`,
    comments (#) and blank lines: a typo must not silently switch checking off.
    """
    if not os.path.lexists(path):
        return None
    text = safeio.read_text(path, "policy file", limit=1 << 16)
    policy = None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = _POLICY_LINE.fullmatch(line)
        if not match:
            raise NodeError(f"{path}:{number}: expected 'signatures = require|warn|off', "
                            f"found {safeio.display(line)!r}")
        key, value = match.groups()
        if key != "signatures":
            raise NodeError(f"{path}:{number}: unknown setting '{key}' (only 'signatures')")
        if value not in POLICIES:
            raise NodeError(f"{path}:{number}: signatures = {safeio.display(value)!r} must be "
                            "require, warn or off")
        policy = value
    return policy


def check_fingerprint(text):
    """TEXT as an upper-case 40-hex-digit OpenPGP v4 fingerprint, or NodeError."""
    compact = text.replace(" ", "")
    if not FINGERPRINT.fullmatch(compact):
        raise NodeError(f"'{text}' is not a key fingerprint (40 hex digits)")
    return compact.upper()


def load(root=None, extra_key=None, keyring=None):
    """The Trust of the system at ROOT.

    EXTRA_KEY (the kickstart's --trust-key) is a fingerprint to pin or the
    absolute path of a key file to add; either makes the policy `require`
    (asking for a key means asking for the check). KEYRING (`image verify
    --keyring`) replaces trusted.d by a folder or a file.
    """
    source = keyring if keyring is not None else trust_dir(root)
    if keyring is not None and not os.path.lexists(keyring):
        raise NodeError(f"{keyring}: no such keyring file or folder")
    keys = key_files(source)
    fingerprint = None
    if extra_key:
        if os.path.isabs(extra_key):
            found = key_files(extra_key)
            if not found:
                raise NodeError(f"the trusted key {extra_key} does not exist")
            keys += found
        else:
            fingerprint = check_fingerprint(extra_key)
    policy = read_policy(policy_path(root))
    if extra_key:
        origin = f"{source} and the kickstart's trust key {extra_key}"
        policy = "require"
    elif policy is not None:
        origin = policy_path(root)
    else:
        policy = "require" if keys else "off"
        origin = (f"default: {len(keys)} trusted key(s) in {source}" if keys
                  else f"default: no trusted key in {source}")
    return Trust(policy=policy, keys=keys, fingerprint=fingerprint, origin=origin)
