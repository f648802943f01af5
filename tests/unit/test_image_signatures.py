"""Signed images: `image sign|verify`, the trust store's policy, and the doors
(install, update, the add-on) refusing before any write.

Every key is real, made here by gpg in batch mode in a private GNUPGHOME:
a good one, one nobody trusts, one that expired, one that was revoked, and
one whose signature expired (made with --faked-system-time in 2020).
"""

import hashlib
import json
import os
import shutil
import subprocess

import pytest

from org_ovirt_node import trust
from org_ovirt_node.cli.main import main
from org_ovirt_node.errors import NodeError
from org_ovirt_node.image import signature
from org_ovirt_node.progress import RecordingReporter

pytestmark = pytest.mark.skipif(not shutil.which("gpg") or not shutil.which("gpgv"),
                                reason="needs gpg and gpgv")

PAST = "20200601T000000"


def gpg(home, *args, check=True):
    return subprocess.run(["gpg", "--batch", "--homedir", str(home), "--passphrase", "",
                           "--pinentry-mode", "loopback", *args],
                          capture_output=True, text=True, check=check)


def fingerprint(home, uid):
    listing = gpg(home, "--with-colons", "--list-keys", uid).stdout
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))


class Keys:
    """The test's keys: public key files by name, the good secret key file, gpg's home."""

    def __init__(self, base):
        self.home = base / "gnupg"
        self.home.mkdir(mode=0o700)
        self.dir = base / "keys"
        self.dir.mkdir()
        made = {"good": ("Good Signer <good@example.org>", "never", None),
                "stranger": ("Stranger <stranger@example.org>", "never", None),
                "expired": ("Expired <expired@example.org>", "1y", "20200101T000000"),
                "revoked": ("Revoked <revoked@example.org>", "never", None),
                "oldsig": ("Old Signature <oldsig@example.org>", "never", "20200101T000000")}
        self.fpr = {}
        for name, (uid, expire, when) in made.items():
            faked = ["--faked-system-time", when] if when else []
            gpg(self.home, *faked, "--quick-gen-key", uid, "ed25519", "sign", expire)
            self.fpr[name] = fingerprint(self.home, uid)
        rev = self.home / "openpgp-revocs.d" / f"{self.fpr['revoked']}.rev"
        cert = rev.read_text().replace(":-----BEGIN", "-----BEGIN")
        (base / "revoke.asc").write_text(cert)
        self.uid = {name: uid for name, (uid, _, _) in made.items()}
        self.secret = base / "good.secret.asc"
        self.secret.write_bytes(gpg(self.home, "--armor", "--export-secret-keys",
                                    self.fpr["good"]).stdout.encode())
        self.revocation = base / "revoke.asc"

    def public(self, name, armor=True):
        path = self.dir / f"{name}.{'asc' if armor else 'gpg'}"
        path.write_bytes(subprocess.run(
            ["gpg", "--batch", "--homedir", str(self.home), *(["--armor"] if armor else []),
             "--export", self.fpr[name]], capture_output=True, check=True).stdout)
        return path

    def sign(self, name, path, *extra, when=None):
        faked = ["--faked-system-time", when] if when else []
        gpg(self.home, *faked, "--local-user", self.fpr[name], *extra, "--detach-sign",
            "--yes", "--output", f"{path}.sig", str(path))


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    keys = Keys(tmp_path_factory.mktemp("keys"))
    yield keys
    stop_agent(keys.home)


def stop_agent(home):
    """gpg starts an agent per home; the test's go with it."""
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)


def store(tmp_path, keys, *names, policy=None, armor=True):
    """A trust root under TMP_PATH holding the public keys NAMES."""
    root = tmp_path / "root"
    folder = root / trust.TRUST_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(keys.public(name, armor), folder)
    if policy is not None:
        (root / trust.POLICY_FILE).write_text(f"# test\nsignatures = {policy}\n")
    return root


def image_file(tmp_path, name="node.squashfs", data=b"not really an image\n" * 100):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def error_of(image, root, **kwargs):
    with pytest.raises(signature.SignatureError) as caught:
        signature.verify(image, trust.load(str(root), **kwargs))
    return caught.value


# --- sign and verify -------------------------------------------------------

def test_sign_then_verify_on_the_command_line(tmp_path, keys, capsys, monkeypatch):
    image = image_file(tmp_path)
    before = digest(image)
    assert main(["image", "sign", str(image), "--key", str(keys.secret), "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made == {"signature": f"{image}.sig", "fingerprint": keys.fpr["good"],
                    "uid": keys.uid["good"]}
    assert digest(image) == before and sorted(os.listdir(tmp_path)) == [
        "node.squashfs", "node.squashfs.sig"]
    monkeypatch.setattr(trust, "ROOT", str(store(tmp_path / "t", keys, "good")))
    assert main(["image", "verify", str(image), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["signed_by"]["fingerprint"] == keys.fpr["good"]
    assert result["signed_by"]["uid"] == keys.uid["good"]
    assert result["policy"] == "require"
    assert main(["image", "verify", str(image)]) == 0
    assert "good signature by " + keys.fpr["good"] in capsys.readouterr().out


def test_sign_refuses_an_existing_signature_without_force(tmp_path, keys, capsys):
    image = image_file(tmp_path)
    (tmp_path / "node.squashfs.sig").write_bytes(b"old")
    assert main(["image", "sign", str(image), "--key", str(keys.secret)]) == 1
    assert "exists (use --force" in capsys.readouterr().err
    assert main(["image", "sign", str(image), "--key", str(keys.secret), "--force"]) == 0
    assert (tmp_path / "node.squashfs.sig").read_bytes() != b"old"


def test_sign_with_a_public_key_only_is_one_error(tmp_path, keys, capsys):
    image = image_file(tmp_path)
    assert main(["image", "sign", str(image), "--key", str(keys.public("good"))]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exactly one secret key" in err
    assert not (tmp_path / "node.squashfs.sig").exists()


def test_keyring_option_takes_a_file_or_a_folder_binary_or_armored(tmp_path, keys, capsys):
    image = image_file(tmp_path)
    keys.sign("good", image)
    for path in (keys.public("good"), keys.public("good", armor=False), keys.dir):
        assert main(["image", "verify", str(image), "--keyring", str(path)]) == 0, path
    capsys.readouterr()


# --- the error classes -----------------------------------------------------

def test_no_signature(tmp_path, keys):
    image = image_file(tmp_path)
    error = error_of(image, store(tmp_path, keys, "good"))
    assert error.kind == "missing"
    assert str(error) == f"node.squashfs has no signature ({image}.sig is missing)"


def test_a_damaged_signature_is_bad(tmp_path, keys):
    image = image_file(tmp_path)
    keys.sign("good", image)
    sig = tmp_path / "node.squashfs.sig"
    data = bytearray(sig.read_bytes())
    data[-3] ^= 0xFF                        # inside the signature value, not the digest prefix
    sig.write_bytes(bytes(data))
    error = error_of(image, store(tmp_path, keys, "good"))
    assert error.kind == "bad"
    assert "bad signature by" in str(error) and "damaged or forged" in str(error)


def test_a_signature_for_another_file(tmp_path, keys):
    other = image_file(tmp_path, "other.squashfs", b"another image")
    keys.sign("good", other)
    image = image_file(tmp_path)
    shutil.copy(f"{other}.sig", f"{image}.sig")
    error = error_of(image, store(tmp_path, keys, "good"))
    assert error.kind == "mismatch"
    assert str(error) == (f"{image}.sig does not match node.squashfs (a signature for "
                          "another file, or the image changed)")
    keys.sign("good", image)
    image.write_bytes(image.read_bytes() + b"changed")
    assert error_of(image, store(tmp_path, keys, "good")).kind == "mismatch"


def test_an_unknown_key(tmp_path, keys):
    image = image_file(tmp_path)
    keys.sign("stranger", image)
    error = error_of(image, store(tmp_path, keys, "good"))
    assert error.kind == "unknown-key"
    assert f"signed by an unknown key {keys.fpr['stranger']}" in str(error)


def test_an_expired_key(tmp_path, keys):
    image = image_file(tmp_path)
    keys.sign("expired", image, when=PAST)
    error = error_of(image, store(tmp_path, keys, "expired"))
    assert error.kind == "expired-key" and "a key that has expired" in str(error)


def test_an_expired_signature(tmp_path, keys):
    image = image_file(tmp_path)
    keys.sign("oldsig", image, "--default-sig-expire", "1d", when=PAST)
    error = error_of(image, store(tmp_path, keys, "oldsig"))
    assert error.kind == "expired-signature" and "has expired" in str(error)


def test_a_revoked_key(tmp_path, keys):
    image = image_file(tmp_path)
    keys.sign("revoked", image)
    root = store(tmp_path, keys, "revoked")
    revoked_home = tmp_path / "home"
    revoked_home.mkdir(mode=0o700)
    gpg(revoked_home, "--import", str(root / trust.TRUST_DIR / "revoked.asc"))
    gpg(revoked_home, "--import", str(keys.revocation))
    stop_agent(revoked_home)
    (root / trust.TRUST_DIR / "revoked.asc").write_bytes(subprocess.run(
        ["gpg", "--batch", "--homedir", str(revoked_home), "--armor", "--export"],
        capture_output=True, check=True).stdout)
    error = error_of(image, root)
    assert error.kind == "revoked-key" and "a revoked key" in str(error)


def test_a_signature_that_is_no_signature(tmp_path, keys):
    image = image_file(tmp_path)
    (tmp_path / "node.squashfs.sig").write_text("garbage\n")
    error = error_of(image, store(tmp_path, keys, "good"))
    assert error.kind == "unreadable" and "not a usable OpenPGP signature" in str(error)


def test_a_pinned_fingerprint_refuses_another_trusted_key(tmp_path, keys):
    image = image_file(tmp_path)
    keys.sign("good", image)
    root = store(tmp_path, keys, "good", "stranger")
    error = error_of(image, root, extra_key=keys.fpr["stranger"])
    assert error.kind == "other-key" and f"not by the trusted key {keys.fpr['stranger']}" \
        in str(error)
    assert signature.verify(image, trust.load(str(root), extra_key=keys.fpr["good"].lower()))


def test_every_error_is_one_line_on_the_command_line(tmp_path, keys, capsys, monkeypatch):
    image = image_file(tmp_path)
    keys.sign("stranger", image)
    monkeypatch.setattr(trust, "ROOT", str(store(tmp_path, keys, "good")))
    assert main(["image", "verify", str(image)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ovirt-node: error: ") and err.count("\n") == 1
    assert "unknown key" in err


# --- the policy ------------------------------------------------------------

def test_default_policy_follows_the_keys(tmp_path, keys):
    empty = tmp_path / "empty"
    assert trust.load(str(empty)).policy == "off"
    assert trust.load(str(store(tmp_path, keys, "good"))).policy == "require"


def test_policy_file_values_and_errors(tmp_path, keys):
    for value in trust.POLICIES:
        root = store(tmp_path / value, keys, "good", policy=value)
        assert trust.load(str(root)).policy == value
    root = store(tmp_path / "bad", keys, policy="maybe")
    with pytest.raises(NodeError) as caught:
        trust.load(str(root))
    assert str(caught.value) == (f"{root / trust.POLICY_FILE}:2: signatures = 'maybe' must "
                                 "be require, warn or off")
    (root / trust.POLICY_FILE).write_text("signature = off\n")
    with pytest.raises(NodeError, match=r"policy.conf:1: unknown setting 'signature'"):
        trust.load(str(root))
    (root / trust.POLICY_FILE).write_text("\n\njust words\n")
    with pytest.raises(NodeError, match=r"policy.conf:3: expected 'signatures = "):
        trust.load(str(root))


def test_warn_reports_and_goes_on_off_checks_nothing(tmp_path, keys, monkeypatch):
    image = image_file(tmp_path)
    keys.sign("stranger", image)
    reporter = RecordingReporter()
    warn = trust.load(str(store(tmp_path / "w", keys, "good", policy="warn")))
    assert signature.check(image, warn, reporter) is None
    [warning] = [event[1] for event in reporter.events if event[0] == "warning"]
    assert "unknown key" in warning and "policy warn: going on" in warning
    off = trust.load(str(store(tmp_path / "o", keys, "good", policy="off")))
    monkeypatch.setattr(signature, "verify", lambda *a: pytest.fail("checked under off"))
    reporter = RecordingReporter()
    assert signature.check(image, off, reporter) is None
    assert [event[1] for event in reporter.events if event[0] == "info"] == [
        f"image signatures are not checked (policy off; {off.origin})"]


def test_require_without_a_key_refuses(tmp_path, keys):
    image = image_file(tmp_path)
    keys.sign("good", image)
    root = store(tmp_path, keys, policy="require")
    error = error_of(image, root)
    assert error.kind == "no-keys" and "there is no trusted key" in str(error)


def test_a_trust_key_path_adds_the_key_and_requires(tmp_path, keys):
    image = image_file(tmp_path)
    keys.sign("good", image)
    root = store(tmp_path, keys, policy="off")
    loaded = trust.load(str(root), extra_key=str(keys.public("good")))
    assert loaded.policy == "require"
    assert signature.verify(image, loaded)["fingerprint"] == keys.fpr["good"]
    with pytest.raises(NodeError, match="does not exist"):
        trust.load(str(root), extra_key=str(tmp_path / "nope.asc"))
    with pytest.raises(NodeError, match="not a key fingerprint"):
        trust.load(str(root), extra_key="ABCD")


# --- the node state and status ---------------------------------------------

def test_state_records_the_signer_and_reads_old_files(tmp_path):
    from org_ovirt_node.lifecycle.state import NodeState, load_state, save_state, state_path
    path = state_path(str(tmp_path))
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as stream:       # a state file written before signatures existed
        json.dump({"keep": 2, "images": {"node-1.0-1": {"ID": "demo"}}}, stream)
    old = load_state(str(tmp_path))
    assert old.signatures == {} and old.images == {"node-1.0-1": {"ID": "demo"}}
    state = NodeState()
    signer = {"fingerprint": "A" * 40, "uid": "Good <g@example.org>"}
    state.remember_image("node-1.0-1", {"ID": "demo"}, signer, "require")
    state.remember_image("node-2.0-1", {"ID": "demo"}, None, "off")
    state.remember_image("node-3.0-1", {"ID": "demo"})               # not checked: no record
    save_state(str(tmp_path), state)
    loaded = load_state(str(tmp_path))
    assert loaded.signatures == {"node-1.0-1": {"signed_by": signer, "policy": "require"},
                                 "node-2.0-1": {"signed_by": None, "policy": "off"}}
    assert loaded.forget_missing(layers={}, bases=["node-2.0-1"])
    assert list(loaded.signatures) == ["node-2.0-1"]


def test_status_text_names_the_signer_per_base_and_layer():
    from org_ovirt_node.cli.status import render_status
    signer = {"fingerprint": "A" * 40, "uid": "Good <g@example.org>"}
    layer = {"name": "n-1.0-1+1", "origin": "n-1.0-1", "os_release": None, "entries": [],
             "kernels": [], "default": True, "running": False, "fallback": False,
             "pinned": False, "bad": False, "last_known_good": False, "health": None,
             "signed_by": signer, "signature_policy": "require"}
    base = {"name": "n-1.0-1", "size": 1 << 30, "read_only": True, "activation_skip": True,
            "signed_by": None, "signature_policy": "warn"}
    text = render_status({"vg": {"name": "onn", "size": 1 << 34, "free": 0}, "pool": None,
                          "bases": [base], "layers": [layer], "volumes": []})
    assert f"         signed by {'A' * 40} (Good <g@example.org>), policy require" in text
    assert "         signature not verified (policy warn)" in text


# --- the doors refuse before any write -------------------------------------

needs_image = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("mksquashfs") or not shutil.which("mke2fs"),
    reason="a real image needs root (loop mounts), mksquashfs and mke2fs")


@pytest.fixture(scope="module")
def node_image(tmp_path_factory):
    from org_ovirt_node.image.build import build_image
    from tests.support.images import NVR, make_root_tree
    base = tmp_path_factory.mktemp("image")
    image = base / "node.squashfs"
    build_image(make_root_tree(str(base / "root")), str(image), NVR)
    return image


def files_under(folder):
    return sorted(os.path.relpath(os.path.join(top, name), folder)
                  for top, dirs, names in os.walk(folder) for name in dirs + names)


@needs_image
def test_inspect_shows_the_signer_and_the_policy(tmp_path, keys, node_image, capsys,
                                                 monkeypatch):
    image = tmp_path / "node.squashfs"
    shutil.copy(node_image, image)
    keys.sign("good", image)
    monkeypatch.setattr(trust, "ROOT", str(store(tmp_path, keys, "good")))
    assert main(["image", "inspect", str(image), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["signed_by"]["fingerprint"] == keys.fpr["good"]
    assert info["signature_policy"] == "require"
    assert main(["image", "inspect", str(image)]) == 0
    assert f"Signed by:   {keys.fpr['good']} ({keys.uid['good']}) (policy require)" in \
        capsys.readouterr().out


@needs_image
@pytest.mark.parametrize("case", ["missing", "stranger", "changed"])
def test_install_refuses_before_the_disks(tmp_path, keys, node_image, capsys, monkeypatch,
                                          case):
    from org_ovirt_node.install import pipeline
    from org_ovirt_node.install.options import InstallOptions
    work = tmp_path / "work"
    work.mkdir()
    image = work / "node.squashfs"
    shutil.copy(node_image, image)
    if case != "missing":
        keys.sign("good" if case == "changed" else "stranger", image)
    if case == "changed":
        with open(image, "ab") as stream:
            stream.write(b"\0" * 4096)
    disk = work / "disk.img"
    disk.write_bytes(b"\0" * 4096)
    before = files_under(work), digest(disk), digest(image)
    monkeypatch.setattr(trust, "ROOT", str(store(tmp_path, keys, "good")))
    monkeypatch.setattr(pipeline.disks, "check_disk", lambda *a: pytest.fail("disks reached"))
    assert main(["install", "--image", str(image), "--disk", str(disk), "--dry-run"]) == 1
    [error] = [line for line in capsys.readouterr().err.splitlines()
               if line.startswith("ovirt-node: error: ")]
    assert {"missing": "has no signature", "stranger": "unknown key",
            "changed": "does not match"}[case] in error
    with pytest.raises(signature.SignatureError):
        pipeline.make_plan(str(image), InstallOptions(disks=[str(disk)]), RecordingReporter())
    assert (files_under(work), digest(disk), digest(image)) == before


@needs_image
def test_install_under_warn_goes_on_to_the_disks(tmp_path, keys, node_image, monkeypatch):
    from org_ovirt_node.install import pipeline
    from org_ovirt_node.install.options import InstallOptions
    image = tmp_path / "node.squashfs"
    shutil.copy(node_image, image)
    monkeypatch.setattr(trust, "ROOT", str(store(tmp_path, keys, "good", policy="warn")))

    def reached(*_args):
        raise NodeError("disks reached")
    monkeypatch.setattr(pipeline.disks, "check_disk", reached)
    reporter = RecordingReporter()
    with pytest.raises(NodeError, match="disks reached"):
        pipeline.make_plan(str(image), InstallOptions(disks=[str(tmp_path / "disk")],
                                                      bootloader=False), reporter)
    assert any(event[0] == "warning" and "has no signature" in event[1]
               for event in reporter.events)


class Untouchable:
    """A node nobody may look at: the signature check comes first."""

    def __getattr__(self, name):
        pytest.fail(f"the update used node.{name} before the signature was checked")


@needs_image
@pytest.mark.parametrize("case", ["missing", "expired", "mismatch"])
def test_update_preflight_refuses_before_touching_the_node(tmp_path, keys, node_image,
                                                           monkeypatch, case):
    from org_ovirt_node.lifecycle import update
    image = tmp_path / "node.squashfs"
    shutil.copy(node_image, image)
    name = {"missing": None, "expired": "expired", "mismatch": "good"}[case]
    if name:
        keys.sign(name, image, when=PAST if name == "expired" else None)
    if case == "mismatch":
        other = image_file(tmp_path, "other")
        keys.sign("good", other)
        shutil.copy(f"{other}.sig", f"{image}.sig")
    monkeypatch.setattr(trust, "ROOT", str(store(tmp_path / "t", keys, "good", "expired")))
    monkeypatch.setattr(update.lvm, "lvm", lambda *a, **k: pytest.fail("lvm ran"))
    monkeypatch.setattr(update.lvm, "report", lambda *a, **k: pytest.fail("lvm ran"))
    before = files_under(tmp_path)
    with pytest.raises(signature.SignatureError) as caught:
        update.plan_update(Untouchable(), update.UpdateOptions(image=str(image)),
                           RecordingReporter())
    assert caught.value.kind == {"missing": "missing", "expired": "expired-key",
                                 "mismatch": "mismatch"}[case]
    assert files_under(tmp_path) == before


# --- the add-on: the kickstart's --trust-key, checked before storage --------

def test_the_section_knows_trust_key_at_its_line():
    from pykickstart.errors import KickstartParseError
    from org_ovirt_node.ks.section import parse_section
    head = "%addon org_ovirt_node --image=file:///run/install/repo/node.img\n"
    fpr = "0123456789abcdef0123456789ABCDEF01234567"
    addon = parse_section(f"{head}--trust-key={fpr}\n%end\n", "ks.cfg")
    assert addon.trust_key == fpr.upper() and f"--trust-key={fpr.upper()}" in str(addon)
    assert parse_section(str(addon)).trust_key == fpr.upper()
    for value, reason in (("keys/node.asc", "is a relative path"),
                          ("0123", "must be a key fingerprint (40 hex digits)"),
                          ("/a/../key.asc", "must be a plain absolute path")):
        with pytest.raises(KickstartParseError) as caught:
            parse_section(f"{head}\n--trust-key={value}\n%end\n", "ks.cfg")
        assert f"ks.cfg:3: --trust-key '{value}' {reason}" in str(caught.value)
    with pytest.raises(KickstartParseError) as caught:
        parse_section("%addon org_ovirt_node --image=https://example.org/node.img\n"
                      f"# comment\n--trust-key={fpr}\n%end\n", "ks.cfg")
    assert "ks.cfg:3: --trust-key conflicts with a https: image" in str(caught.value)


@pytest.mark.parametrize("signer", ["good", "stranger", None])
def test_the_configure_task_checks_the_signature(tmp_path, keys, service, client, signer):
    from dasbus.error import DBusError
    from tests.support.addon_service import run_task
    image = image_file(tmp_path)
    if signer:
        keys.sign(signer, image)
    key = keys.public("good")
    service.ReadKickstart(f"%addon org_ovirt_node --image=file://{image} "
                          f"--trust-key={key}\n%end\n")
    task, events = run_task(client, service.ConfigureWithTasks()[0])
    if signer == "good":
        assert events[-2:] == ["succeeded", "stopped"]
        return
    assert events[-2:] == ["failed", "stopped"]
    step, reason = events[-3]
    assert step == 3 and ("unknown key" in reason if signer else "has no signature" in reason)
    with pytest.raises(DBusError):
        task.Finish()


def test_the_install_plan_names_the_signer():
    from org_ovirt_node.install.plan import Plan
    plan = Plan(disks={"/dev/vda": 1 << 35}, nvr="n-1.0-1", layer="n-1.0-1+1", vg="onn",
                pool="pool00", devices=[], signed_by={"fingerprint": "B" * 40, "uid": "B <b@x>"},
                signature_policy="require")
    assert f"Signed by {'B' * 40} (B <b@x>) (policy require)" in plan.render_table()
    assert plan.to_dict()["signed_by"]["fingerprint"] == "B" * 40
    plan.signature_policy = None
    assert "Signed by" not in plan.render_table()


def test_the_install_task_records_the_signer(tmp_path, keys, monkeypatch):
    from org_ovirt_node.install import adopt
    from org_ovirt_node.ks.section import parse_section
    from org_ovirt_node.lifecycle import state
    from org_ovirt_node.service.tasks import install_work
    image = image_file(tmp_path)
    keys.sign("good", image)
    sysroot = tmp_path / "sysroot"
    (sysroot / "boot").mkdir(parents=True)

    class Made:
        nvr = "n-1.0-1"

        @staticmethod
        def summary():
            return "made"

    def adopted(root, _options, _reporter):
        state.record_install(os.path.join(root, "boot"), 2, "n-1.0-1", {"ID": "n"})
        return Made()
    monkeypatch.setattr(adopt, "adopt_root", adopted)
    addon = parse_section(f"%addon org_ovirt_node --image=file://{image} "
                          f"--trust-key={keys.public('good')}\n%end\n")
    [work] = install_work(addon, str(sysroot))
    work.run(RecordingReporter())
    recorded = state.load_state(str(sysroot / "boot"))
    assert recorded.images == {"n-1.0-1": {"ID": "n"}}
    assert recorded.signatures["n-1.0-1"]["policy"] == "require"
    assert recorded.signatures["n-1.0-1"]["signed_by"]["fingerprint"] == keys.fpr["good"]
