"""Detached OpenPGP signatures of node images: `IMAGE.sig`, made and checked by GnuPG.

No cryptography here: `gpg` signs and `gpgv` verifies (Debian's tools, the
ones apt trusts). What this module adds is the part people meet:

- gpgv reads binary keyrings only, so armored `*.asc` keys are dearmored
  (base64, not crypto) into a keyring in a private temporary folder;
- gpgv's `--status-fd` lines tell the cases apart, and its exit status is not
  enough (an expired or revoked key still exits 0), so each case gets its own
  one-line error: no signature, a bad one, one for another file, an unknown,
  expired or revoked key, an expired signature, a key other than the pinned one;
- for BADSIG, which gpgv reports alike for a damaged signature and for one
  made over other data, the signature's 16-bit digest prefix (a plain hash,
  RFC 4880 5.2.4) is compared with the image's to say which it is;
- `check()` applies the trust store's policy (trust.py): `require` raises,
  `warn` reports the same text as a warning and goes on, `off` checks nothing.
"""

import base64
import binascii
import hashlib
import os
import re
import shutil
import subprocess
from datetime import datetime, timezone

from org_ovirt_node.errors import NodeError
from org_ovirt_node.util import safeio
from org_ovirt_node.util.atomic import write_atomic
from org_ovirt_node.util.run import require_tool, run

SIG_SUFFIX = ".sig"
_KEY_LIMIT = 16 << 20
_SIG_LIMIT = 1 << 20
_ARMOR = re.compile(rb"-----BEGIN PGP ([A-Z ]+)-----\r?\n(.*?)-----END PGP \1-----", re.S)
_STATUS = "[GNUPG:] "
# RFC 4880 9.4 hash algorithm ids -> hashlib names (for the digest prefix only)
_HASHES = {1: "md5", 2: "sha1", 3: "ripemd160", 8: "sha256", 9: "sha384", 10: "sha512",
           11: "sha224"}


class SignatureError(NodeError):
    """A signature that does not pass; KIND names the case (missing, bad,
    mismatch, unknown-key, expired-key, expired-signature, revoked-key,
    other-key, no-keys, unreadable)."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def signature_path(image):
    """Where the detached signature of IMAGE lives: IMAGE.sig."""
    return f"{image}{SIG_SUFFIX}"


def dearmor(data, what="key file"):
    """The binary packets of every ASCII-armored block in DATA (bytes)."""
    blocks = _ARMOR.findall(data)
    if not blocks:
        raise NodeError(f"{what}: no complete '-----BEGIN PGP ...' block")
    out = bytearray()
    for _, body in blocks:
        lines = [line.strip() for line in body.replace(b"\r", b"").rstrip().split(b"\n")]
        if b"" in lines:                     # armor headers end at the first blank line
            lines = lines[lines.index(b"") + 1:]
        lines = [line for line in lines if line and not line.startswith(b"=")]  # CRC24
        try:
            out += base64.b64decode(b"".join(lines), validate=True)
        except binascii.Error:
            raise NodeError(f"{what}: the armored block is not valid base64") from None
    return bytes(out)


def _is_armored(data):
    return data.lstrip()[:15] == b"-----BEGIN PGP "


def _keyrings(keys, folder):
    """gpgv --keyring files for the key files KEYS, dearmored ones written into FOLDER."""
    rings, merged = [], bytearray()
    for path in keys:
        data = safeio.read_bytes(path, "key file", limit=_KEY_LIMIT)
        if _is_armored(data):
            merged += dearmor(data, path)
        elif data[4:8] == b"KBXf":          # a keybox (gpg's pubring.kbx): gpgv reads it
            rings.append(os.path.abspath(path))
        else:
            merged += data
    if merged:
        ring = os.path.join(folder, "trusted.gpg")
        with open(ring, "wb") as stream:
            stream.write(merged)
        rings.append(ring)
    return rings


def parse_status(text):
    """gpgv's --status-fd lines as a list of (KEYWORD, [args])."""
    items = []
    for line in text.splitlines():
        if line.startswith(_STATUS):
            words = line[len(_STATUS):].split(" ")
            items.append((words[0], words[1:]))
    return items


def _signer(status):
    """The signer dict of a good signature's status lines."""
    uid = key_id = None
    valid = None
    for keyword, args in status:
        if keyword == "GOODSIG":
            key_id, uid = args[0], " ".join(args[1:])
        elif keyword == "VALIDSIG":
            valid = args
    created = None
    if valid and len(valid) > 2 and valid[2].isdigit():
        created = datetime.fromtimestamp(int(valid[2]), timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
    fingerprint = valid[-1] if valid else key_id
    return {"fingerprint": fingerprint, "uid": uid,
            "signing_key": valid[0] if valid else key_id, "created": created}


def _first(status, keyword):
    return next((args for word, args in status if word == keyword), None)


def _who(args):
    """'KEYID (user id)' of a GOODSIG-like line's arguments."""
    uid = " ".join(args[1:])
    return f"{args[0]} ({uid})" if uid else args[0]


def classify(status, returncode, image, sig, source, fingerprint=None):
    """The signer dict of gpgv's STATUS lines, or the SignatureError they mean."""
    name = os.path.basename(image)
    bad = _first(status, "BADSIG")
    if bad is not None:
        if digest_prefix_matches(sig, image) is False:
            raise SignatureError("mismatch", f"{sig} does not match {name} (a signature for "
                                 "another file, or the image changed)")
        raise SignatureError("bad", f"{sig}: bad signature by {_who(bad)}: the signature is "
                             "damaged or forged")
    revoked = _first(status, "REVKEYSIG")
    if revoked is not None:
        raise SignatureError("revoked-key", f"{sig}: signed by {_who(revoked)}, a revoked key")
    expired = _first(status, "EXPKEYSIG")
    if expired is not None:
        raise SignatureError("expired-key", f"{sig}: signed by {_who(expired)}, a key that "
                             "has expired")
    old = _first(status, "EXPSIG")
    if old is not None:
        raise SignatureError("expired-signature", f"{sig}: the signature by {_who(old)} "
                             "has expired")
    missing = _first(status, "NO_PUBKEY")
    error = _first(status, "ERRSIG")
    if missing is not None or (error and len(error) > 5 and error[5] == "9"):
        key = (error[-1] if error and len(error) > 6 else None) or (missing or error)[0]
        raise SignatureError("unknown-key", f"{sig}: signed by an unknown key {key} (not "
                             f"among the trusted keys of {source})")
    good = _first(status, "GOODSIG")
    if good is None or _first(status, "VALIDSIG") is None or returncode != 0:
        detail = f" (gpgv: ERRSIG {' '.join(error)})" if error else ""
        raise SignatureError("unreadable", f"{sig} is not a usable OpenPGP signature of "
                             f"{name}{detail}")
    signer = _signer(status)
    if fingerprint and fingerprint not in (signer["fingerprint"], signer["signing_key"]):
        raise SignatureError("other-key", f"{sig}: signed by {signer['fingerprint']} "
                             f"({signer['uid']}), not by the trusted key {fingerprint}")
    return signer


def verify(image, trust):
    """Check IMAGE.sig with gpgv against TRUST's keys; return the signer dict.

    The dict: fingerprint (the primary key's), uid, signing_key (the subkey's
    fingerprint, or the primary's), created (UTC). Raises SignatureError.
    """
    image = os.path.abspath(os.fspath(image))
    sig = signature_path(image)
    source = trust.origin or "the trust store"
    if not os.path.lexists(sig):
        raise SignatureError("missing", f"{os.path.basename(image)} has no signature "
                             f"({sig} is missing)")
    safeio.check_input_file(sig, "signature")
    if not trust.keys:
        raise SignatureError("no-keys", f"cannot verify {sig}: there is no trusted key "
                             f"({source})")
    gpgv = require_tool("gpgv", "gpgv")
    with safeio.TempDir("gpgv") as home:
        os.chmod(home, 0o700)
        command = [gpgv, "--homedir", home, "--status-fd", "1"]
        for ring in _keyrings(trust.keys, home):
            command += ["--keyring", ring]
        try:
            result = subprocess.run(command + ["--", sig, image], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                    text=True, errors="replace", check=False)
        except OSError as error:
            raise NodeError(f"cannot run gpgv: {error.strerror}") from None
    return classify(parse_status(result.stdout), result.returncode, image, sig, source,
                    trust.fingerprint)


def check(image, trust, reporter=None):
    """Apply TRUST's policy to IMAGE's signature; return the signer dict or None.

    `require`: a failing signature raises. `warn`: its message becomes a
    warning on REPORTER and None is returned. `off`: nothing is checked (said
    once on REPORTER).
    """
    if trust.policy == "off":
        if reporter:
            reporter.info(f"image signatures are not checked (policy off; {trust.origin})")
        return None
    try:
        return verify(image, trust)
    except SignatureError as error:
        if trust.policy == "require":
            raise
        if reporter:
            reporter.warning(f"{error} (signature policy warn: going on)")
        return None


def describe_signer(signer):
    """One line for people: 'FINGERPRINT (user id)', or 'not signed'."""
    if not signer:
        return "not verified"
    return f"{signer['fingerprint']} ({signer['uid']})" if signer.get("uid") \
        else signer["fingerprint"]


# --- telling a damaged signature from one over other data ------------------

def _first_packet(data):
    """(tag, body) of the first OpenPGP packet in DATA, or None."""
    if not data or not data[0] & 0x80:
        return None
    ctb = data[0]
    if ctb & 0x40:                       # new format
        tag, first = ctb & 0x3F, data[1] if len(data) > 1 else 0
        if first < 192:
            start, length = 2, first
        elif first < 224:
            start, length = 3, ((first - 192) << 8) + data[2] + 192
        elif first == 255:
            start, length = 6, int.from_bytes(data[2:6], "big")
        else:
            return None                  # partial lengths: not a signature's
    else:
        tag, kind = (ctb >> 2) & 0x0F, ctb & 3
        if kind == 3:
            start, length = 1, len(data) - 1
        else:
            size = 1 << kind
            start, length = 1 + size, int.from_bytes(data[1:1 + size], "big")
    return tag, data[start:start + length]


def digest_prefix_matches(sig, image):
    """True when SIG's v4 digest prefix matches IMAGE's data, False when not,
    None when that cannot be told (another version, a text signature, an
    unknown hash). Only for wording the BADSIG error: gpgv decides."""
    try:
        data = safeio.read_bytes(sig, "signature", limit=_SIG_LIMIT)
        if _is_armored(data):
            data = dearmor(data, sig)
    except NodeError:
        return None
    packet = _first_packet(data)
    if packet is None or packet[0] != 2 or len(packet[1]) < 6:
        return None
    body = packet[1]
    version, sig_type, hash_id = body[0], body[1], body[3]
    if version != 4 or sig_type != 0 or hash_id not in _HASHES:
        return None
    hashed_end = 6 + int.from_bytes(body[4:6], "big")
    unhashed_end = hashed_end + 2 + int.from_bytes(body[hashed_end:hashed_end + 2], "big")
    prefix = body[unhashed_end:unhashed_end + 2]
    if len(prefix) != 2:
        return None
    try:
        digest = hashlib.new(_HASHES[hash_id])
    except ValueError:
        return None
    with safeio.open_input(image, "image") as stream:
        for chunk in iter(lambda: stream.read(4 << 20), b""):
            digest.update(chunk)
    digest.update(body[:hashed_end] + b"\x04\xff" + hashed_end.to_bytes(4, "big"))
    return digest.digest()[:2] == prefix


# --- signing ---------------------------------------------------------------

def _gpg(home, *args, passphrase_file=None):
    """Run gpg in batch mode on the private HOME; the CompletedProcess."""
    secret = ["--passphrase-file", passphrase_file] if passphrase_file else ["--passphrase", ""]
    return run([require_tool("gpg", "gpg"), "--batch", "--no-tty", "--homedir", home,
                "--pinentry-mode", "loopback", *secret, *args], check=False)


def _secret_key(home, key):
    """(fingerprint, uid) of the one secret key imported into HOME from KEY."""
    listing = _gpg(home, "--with-colons", "--list-secret-keys").stdout
    keys, uid, current = [], None, None
    for line in listing.splitlines():
        fields = line.split(":")
        if fields[0] == "sec":
            current = []
            keys.append(current)
        elif fields[0] == "fpr" and current is not None and not current:
            current.append(fields[9])
        elif fields[0] == "uid" and current is not None and len(current) == 1:
            current.append(fields[9])
    if len(keys) != 1 or not keys[0]:
        raise NodeError(f"{key} must hold exactly one secret key (it holds {len(keys)}); "
                        "export one with gpg --export-secret-keys FINGERPRINT")
    fingerprint = keys[0][0]
    uid = keys[0][1] if len(keys[0]) > 1 else None
    return fingerprint, uid


def sign(image, key, force=False, passphrase_file=None):
    """Write IMAGE.sig, a detached binary signature of IMAGE by the secret key in file KEY.

    The image is only read. KEY is what `gpg --export-secret-keys` writes
    (armored or not); a protected key needs PASSPHRASE_FILE. An existing
    IMAGE.sig is replaced only with FORCE. Returns {signature, fingerprint, uid}.
    """
    image = os.path.abspath(os.fspath(image))
    safeio.check_input_file(image, "image")
    safeio.check_input_file(key, "key file")
    if passphrase_file:
        safeio.check_input_file(passphrase_file, "passphrase file")
    sig = safeio.check_output_file(signature_path(image), force, "signature")
    with safeio.TempDir("sign") as home:
        os.chmod(home, 0o700)
        try:
            imported = _gpg(home, "--import", os.path.abspath(key),
                            passphrase_file=passphrase_file)
            if imported.returncode != 0 and "secret key imported" not in imported.stderr:
                raise NodeError(f"gpg cannot import {key}: {_last(imported.stderr)}")
            fingerprint, uid = _secret_key(home, key)
            out = os.path.join(home, "image.sig")
            signed = _gpg(home, "--local-user", fingerprint, "--detach-sign",
                          "--output", out, "--", image, passphrase_file=passphrase_file)
            if signed.returncode != 0 or not os.path.isfile(out):
                raise NodeError(f"gpg could not sign {os.path.basename(image)} with {key}: "
                                f"{_last(signed.stderr)}")
            with open(out, "rb") as stream:
                data = stream.read()
        finally:                        # the agent gpg started for HOME goes with it
            if shutil.which("gpgconf"):
                run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], check=False)
    write_atomic(sig, data)
    return {"signature": sig, "fingerprint": fingerprint, "uid": uid}


def _last(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].removeprefix("gpg: ") if lines else "no reason given"
