"""The update's image-package step: the new layer knows the package that brought it.

When the image-update package (image/package.py) runs `ovirt-node update
--image-package FILE ...`, FILE is a record of that package: its own header
without the image's bytes. This step, after the packages step and with the
node's volumes mounted on the new layer (a Debian node's dpkg database is on
/var), puts it into the new layer's package database the way imgbased does
with `rpm -U --justdb --root <new>`:

  rpm   `rpm --root <new> -U --justdb --nodeps --noscripts --notriggers`
        with this host's rpm (the node's own), so `dnf check-update` in the
        new layer sees ovirt-node-ng-image-update V-R installed;
  dpkg  dpkg has no --justdb: the record's control (`dpkg-deb --field`) goes
        into the new layer's /var/lib/dpkg/status as "install ok installed"
        and its file list (`dpkg-deb --fsys-tarfile`) into info/<name>.list,
        replacing an older stanza of the package; nothing is unpacked.

Then only image updates are offered in the new layer:

  rpm   /etc/dnf/plugins/versionlock.list (dnf's versionlock plugin,
        python3-dnf-plugin-versionlock on EL) locks every installed package
        but *image-update* at its installed N-E:V-R.A, as imgbased writes it;
  dpkg  /etc/apt/preferences.d/ovirt-node-image-update.pref pins every
        installed package but *image-update* at its installed version
        (`Pin: version V`, priority 1001): the same list, in apt's words. A
        blanket `Package: *` pin cannot do it: `Pin: release *` matches the
        installed version too (measured with apt-cache policy).
"""

import io
import os
import subprocess
import tarfile

from org_ovirt_node.errors import NodeError
from org_ovirt_node.lifecycle import persist
from org_ovirt_node.util.atomic import write_atomic
from org_ovirt_node.util.run import run

PACKAGE_PREFIX = "ovirt-node-ng-image-update"
APT_PIN = "etc/apt/preferences.d/ovirt-node-image-update.pref"
VERSIONLOCK = "etc/dnf/plugins/versionlock.list"
APT_PIN_HEADER = """\
# Written by ovirt-node update (its image-package step): on this layer only
# image updates are offered. Every installed package but *image-update* is
# pinned at its installed version (priority 1001, as a versionlock list
# locks it); a package not installed can still be installed.
"""


def manager_of_file(path):
    """"rpm" or "dpkg" by the record file's name."""
    if path.endswith(".rpm"):
        return "rpm"
    if path.endswith(".deb"):
        return "dpkg"
    raise NodeError(f"--image-package {path}: not an .rpm or a .deb")


def _name(path):
    """The package name the record FILE holds (its manager's own reading)."""
    if manager_of_file(path) == "rpm":
        result = run(["rpm", "-qp", "--nosignature", "--nodigest", "--qf", "%{NAME}", path],
                     check=False)
    else:
        result = run(["dpkg-deb", "--field", path, "Package"], check=False)
    if result.returncode != 0:
        raise NodeError(f"--image-package {path}: not a readable package "
                        f"({(result.stderr or '').strip().splitlines()[-1:] or ['?']})")
    return result.stdout.strip()


def problems(files, new_root):
    """Why the record FILES cannot go into the layer of NEW_ROOT (the new image)."""
    found = []
    manager = persist.manager_of(new_root)
    for path in files:
        if not os.path.isfile(path):
            found.append(f"--image-package {path}: no such file")
            continue
        try:
            kind = manager_of_file(path)
            name = _name(path)
        except NodeError as error:
            found.append(str(error))
            continue
        if not name.startswith(PACKAGE_PREFIX):
            found.append(f"--image-package {path}: holds {name}, not an "
                         f"{PACKAGE_PREFIX} package")
        if manager != kind:
            found.append(f"--image-package {path}: a {kind} package, but the new image's "
                         f"package manager is {manager or 'none'}")
    return found


def record(target, files, reporter=None):
    """The step: register FILES in TARGET's database, then lock the rest. Returns
    the paths written (relative to TARGET)."""
    if not files:
        return []
    manager = persist.manager_of(target)
    if manager == "rpm":
        dbpath = persist._rpm_dbpath(target)  # pylint: disable=protected-access
        run(["rpm", "--root", target, "--dbpath", dbpath, "-U", "--justdb", "--nodeps",
             "--noscripts", "--notriggers", "--replacepkgs", "--nosignature", *files])
        written = [write_versionlock(target, dbpath)]
    elif manager == "dpkg":
        for path in files:
            register_deb(target, path)
        written = ["var/lib/dpkg/status", write_apt_pin(target)]
    else:
        raise NodeError("image-package: the new layer has no rpm or dpkg database")
    if reporter is not None:
        reporter.info(f"image-package: {', '.join(os.path.basename(f) for f in files)} "
                      f"recorded in the new layer's {manager} database; "
                      f"/{written[-1]} offers only image updates")
    return written


# --- rpm ----------------------------------------------------------------------------------

def write_versionlock(target, dbpath):
    """TARGET's versionlock.list: every installed package but *image-update*."""
    listed = run(["rpm", "--root", target, "--dbpath", dbpath, "-qa", "--qf",
                  "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\n"]).stdout
    lines = sorted(f"{name}-{evra}" for name, evra in
                   (line.split(" ", 1) for line in listed.splitlines() if " " in line)
                   if "image-update" not in name and name != "gpg-pubkey")
    text = ("# ovirt-node: versionlock begin (written by ovirt-node update; only image "
            "updates are offered)\n" + "".join(f"{line}\n" for line in lines) +
            "# ovirt-node: versionlock end\n")
    write_atomic(os.path.join(target, VERSIONLOCK), text.encode("utf-8"))
    return VERSIONLOCK


# --- dpkg ---------------------------------------------------------------------------------

def _stanzas(text):
    return [block for block in text.split("\n\n") if block.strip()]


def _field(stanza, name):
    for line in stanza.splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    return None


def deb_paths(path):
    """The paths a .deb installs, as dpkg lists them in info/<name>.list."""
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", path], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, check=False)
    if tar.returncode != 0:
        raise NodeError(f"dpkg-deb --fsys-tarfile {path}: {tar.stderr.decode().strip()}")
    paths = []
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as archive:
        for member in archive.getmembers():
            name = member.name[2:] if member.name.startswith("./") else member.name
            name = "/" + name.strip("/")
            paths.append("/." if name == "/" else name)
    return paths


def register_deb(target, path):
    """Record the .deb PATH as installed in TARGET's dpkg database, unpacking nothing."""
    admin = os.path.join(target, "var/lib/dpkg")
    control = run(["dpkg-deb", "--field", path]).stdout.strip("\n")
    name = _field(control, "Package")
    lines = [line for line in control.splitlines() if not line.startswith("Package:")]
    stanza = "\n".join([f"Package: {name}", "Status: install ok installed", *lines])
    status_path = os.path.join(admin, "status")
    with open(status_path, encoding="utf-8") as stream:
        kept = [block.strip("\n") for block in _stanzas(stream.read())
                if _field(block, "Package") != name]
    info = os.path.join(admin, "info")
    os.makedirs(info, exist_ok=True)
    write_atomic(os.path.join(info, f"{name}.list"),
                 "".join(f"{entry}\n" for entry in deb_paths(path)).encode("utf-8"))
    write_atomic(status_path, ("\n\n".join(kept + [stanza]) + "\n").encode("utf-8"))


def installed_debs(status_text):
    """[(name, version)] of the packages a dpkg status text says are installed."""
    found = []
    for block in _stanzas(status_text):
        status = _field(block, "Status") or ""
        if status.endswith(" installed"):
            found.append((_field(block, "Package"), _field(block, "Version")))
    return sorted(set(found))


def apt_pin_text(status_text):
    """The apt preferences that lock every installed package but *image-update*."""
    stanzas = [f"Package: {name}\nPin: version {version}\nPin-Priority: 1001\n"
               for name, version in installed_debs(status_text)
               if "image-update" not in name]
    return APT_PIN_HEADER + "\n" + "\n".join(stanzas)


def write_apt_pin(target):
    """TARGET's apt preferences that offer only image updates."""
    with open(os.path.join(target, "var/lib/dpkg/status"), encoding="utf-8") as stream:
        text = apt_pin_text(stream.read())
    write_atomic(os.path.join(target, APT_PIN), text.encode("utf-8"))
    return APT_PIN
