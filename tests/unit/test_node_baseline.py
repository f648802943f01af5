"""The real node image's security baseline (README "Security baseline"), read
from the built image itself, and no file this project ships weakening it.

The image is squashfs-build/node/build.sh's (tests/support/node_images.py:
cached under /var/cache/ovirt-node, built once). It is loop-mounted read-only
in a private mount namespace (`unshare -m`, so a killed run leaves no
mount); its /etc is copied out, and the image's own tools run chrooted in it:
`sshd -T` (with a host key made for the run on a tmpfs over the image's
/run, which also holds sshd's /run/sshd; nothing is written to the image),
`passwd -S -a` and `visudo -c`. No VM.
"""

import os
import re
import shutil
import subprocess

import pytest

from tests.support.images import needs_root
from tests.support.node_images import NVRS, node_image
from tests.support.vm import REPO

pytestmark = [needs_root, pytest.mark.integration, pytest.mark.skipif(
    not shutil.which("mmdebstrap") or not shutil.which("unshare"),
    reason="building the node image needs mmdebstrap, reading it unshare")]

# Mount the image, copy /etc out, run the image's sshd -T, passwd -S and visudo.
READ_IMAGE = r"""
set -eu
image=$1 out=$2
mnt=$(mktemp -d)
mkdir "$mnt/sq" "$mnt/root"
mount -t squashfs -o loop,ro "$image" "$mnt/sq"
mount -t ext4 -o loop,ro,noload "$mnt/sq/LiveOS/rootfs.img" "$mnt/root"
cp -a "$mnt/root/etc" "$out/etc"
mount -t tmpfs -o mode=0755 tmpfs "$mnt/root/run"
mkdir -m 0755 "$mnt/root/run/sshd"
chroot "$mnt/root" /usr/bin/ssh-keygen -q -t ed25519 -N '' -f /run/hostkey
chroot "$mnt/root" /usr/sbin/sshd -T -h /run/hostkey > "$out/sshd-T"
chroot "$mnt/root" /usr/sbin/sshd -T -h /run/hostkey \
    -C user=root,host=admin.example,addr=192.0.2.1 > "$out/sshd-T-root"
ls -A "$mnt/root/root/.ssh" > "$out/root-ssh"
chroot "$mnt/root" /usr/bin/passwd -S -a > "$out/passwd-S"
chroot "$mnt/root" /usr/sbin/visudo -c > "$out/visudo" 2>&1
umount "$mnt/root/run" "$mnt/root" "$mnt/sq"
rmdir "$mnt/sq" "$mnt/root" "$mnt"
"""


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """{"etc": path of the image's /etc copy, "sshd"/"sshd_root": sshd -T's
    settings (for root from an address: Match blocks apply), "passwd": {user:
    passwd -S status}, "visudo": its check, "root_ssh": /root/.ssh's names}."""
    out = tmp_path_factory.mktemp("node-image")
    path = node_image(NVRS["A"])
    subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", READ_IMAGE,
                    "read-image", path, str(out)], check=True)

    def sshd(name):
        return dict(line.split(" ", 1) for line in (out / name).read_text().splitlines()
                    if " " in line)

    return {"etc": str(out / "etc"), "sshd": sshd("sshd-T"), "sshd_root": sshd("sshd-T-root"),
            "passwd": {line.split()[0]: line.split()[1]
                       for line in (out / "passwd-S").read_text().splitlines()},
            "visudo": (out / "visudo").read_text(),
            "root_ssh": (out / "root-ssh").read_text().split()}


def read(image, *path):
    with open(os.path.join(image["etc"], *path)) as stream:
        return stream.read()


@pytest.mark.parametrize("which", ["sshd", "sshd_root"])
def test_sshd_lets_root_in_by_key_only(image, which):
    config = image[which]
    # without-password is what OpenSSH 9.2 prints for prohibit-password.
    assert config["permitrootlogin"] in ("prohibit-password", "without-password")
    assert config["pubkeyauthentication"] == "yes"
    assert config["permitemptypasswords"] == "no"
    assert config["kbdinteractiveauthentication"] == "no"
    assert config["passwordauthentication"] == "yes"    # Debian's default; no account has one
    assert config["usepam"] == "yes"


def test_sshd_config_is_debians_own(image):
    assert os.listdir(os.path.join(image["etc"], "ssh", "sshd_config.d")) == []
    settings = [line.split()[0].lower() for line in read(image, "ssh", "sshd_config")
                .splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert settings == ["include", "kbdinteractiveauthentication", "usepam",
                        "x11forwarding", "printmotd", "acceptenv", "subsystem"]
    assert not [name for name in os.listdir(os.path.join(image["etc"], "ssh"))
                if name.startswith("ssh_host_")], "host keys are made per node at first boot"


def test_no_account_has_a_password_and_root_is_locked(image):
    shadow = [line.split(":") for line in read(image, "shadow").splitlines() if line]
    fields = {entry[0]: entry[1] for entry in shadow}
    assert fields["root"] == "*"
    assert set(fields.values()) <= {"*", "!", "!*"}, fields
    passwd = [line.split(":")[0] for line in read(image, "passwd").splitlines() if line]
    assert sorted(fields) == sorted(passwd)
    # The image's own passwd(1) agrees: every account locked (L), none NP or P.
    assert image["passwd"]["root"] == "L"
    assert set(image["passwd"].values()) == {"L"}, image["passwd"]
    assert image["root_ssh"] == [], "no key for root in the image"
    firstboot = os.path.join(image["etc"], "systemd", "system", "systemd-firstboot.service")
    assert os.readlink(firstboot) == "/dev/null", "no root password asked at first boot"


def test_cockpit_needs_a_login(image):
    cockpit = os.path.join(image["etc"], "cockpit")
    assert sorted(os.listdir(cockpit)) == ["disallowed-users", "machines.d", "ws-certs.d"]
    assert not os.path.exists(os.path.join(cockpit, "cockpit.conf"))
    assert [line for line in read(image, "cockpit", "disallowed-users").splitlines()
            if line and not line.startswith("#")] == ["root"]
    assert os.listdir(os.path.join(cockpit, "ws-certs.d")) == []  # made per node
    pam = read(image, "pam.d", "cockpit")
    assert "pam_permit" not in pam and "disallowed-users" in pam


def test_sudo_is_the_sudo_group_with_a_password(image):
    rules = [line.split() for line in read(image, "sudoers").splitlines()
             if line.strip() and not line.startswith(("#", "Defaults", "@include"))]
    assert rules == [["root", "ALL=(ALL:ALL)", "ALL"], ["%sudo", "ALL=(ALL:ALL)", "ALL"]]
    assert os.listdir(os.path.join(image["etc"], "sudoers.d")) == ["README"]
    assert "parsed OK" in image["visudo"]
    [sudo] = [line for line in read(image, "group").splitlines() if line.startswith("sudo:")]
    assert sudo.split(":")[3] == "", "no one is in the sudo group"


# --- nothing the project ships or generates weakens it
WEAKENING = re.compile(
    r"PermitRootLogin\s+yes|PasswordAuthentication\s+yes|PermitEmptyPasswords\s+yes|"
    r"NOPASSWD|!authenticate|AllowUnencrypted|LoginTo\s*=|pam_permit|"
    r"passwd\s+-d|usermod\s+(-\S+\s+)*-p|chpasswd|authorized_keys", re.IGNORECASE)
# What goes into the node: the image recipe, the .deb's files and its scripts,
# and the engine that writes /etc during install and update.
SHIPPED = ("squashfs-build/node", "data", "org_ovirt_node", "Makefile")


def shipped_files():
    for top in SHIPPED:
        path = os.path.join(REPO, top)
        if os.path.isfile(path):
            yield path
            continue
        for folder, dirs, files in os.walk(path):
            dirs[:] = [name for name in dirs if name not in ("node_modules", "__pycache__",
                                                             "dist")]
            for name in files:
                yield os.path.join(folder, name)


def test_no_shipped_file_weakens_sshd_cockpit_or_sudo():
    found = []
    for path in shipped_files():
        if os.path.islink(path):
            continue
        with open(path, "rb") as stream:
            text = stream.read().decode("utf-8", "replace")
        found += [f"{os.path.relpath(path, REPO)}: {match.group(0)}"
                  for match in WEAKENING.finditer(text)]
    assert found == []


@pytest.mark.parametrize("text", [
    "PermitRootLogin yes", "passwordauthentication  yes", "PermitEmptyPasswords yes",
    "%wheel ALL=(ALL) NOPASSWD: ALL", "Defaults !authenticate", "[WebService]\n"
    "AllowUnencrypted = true", "LoginTo = false", "echo root:x | chpasswd", "passwd -d root",
    "usermod -p '' root", "auth sufficient pam_permit.so",
    "cat key >> /root/.ssh/authorized_keys"])
def test_the_weakening_patterns_catch(text):
    assert WEAKENING.search(text)
