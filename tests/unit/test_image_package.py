"""`ovirt-node image package`: the image-update package, built and read by the real tools.

The packages are built from a small image with an NVR by rpmbuild and
dpkg-deb, read back with `rpm -qp` / `dpkg-deb`, put in repositories
(createrepo_c, a flat apt repository) and resolved by the real clients, dnf
with --installroot and apt-get with private state, cache and source lists,
so the host's own package state is never touched. The maintainer scripts run
for real only where that is safe: in private roots whose /bin/sh is busybox
and which hold no ovirt-node, so the update fails and the transaction must
fail with it. The update's image-package step is run on a real rpm database
(rpm --initdb) and a dpkg status file, and what it leaves is judged by dnf's
versionlock plugin and by apt's pinning.
"""

import gzip
import hashlib
import json
import os
import shutil
import subprocess

import pytest

from org_ovirt_node.cli.main import main
from org_ovirt_node.image import package
from org_ovirt_node.image.build import build_image
from org_ovirt_node.lifecycle import imagepackage
from tests.support.images import make_root_tree, needs_root, squash_tree

NVR = "ovirt-node-ng-4.5.6-0.20250101.0"
NEWER = "ovirt-node-ng-4.5.7-0.20250301.0"
VR = "4.5.6-0.20250101.0"
TOOLS = ("rpmbuild", "rpm", "rpm2cpio", "cpio", "createrepo_c", "dpkg-deb", "apt-get", "dnf")

pytestmark = [needs_root, pytest.mark.skipif(
    not all(shutil.which(tool) for tool in TOOLS),
    reason=f"needs {', '.join(TOOLS)} (make deps installs them)")]


@pytest.fixture(scope="module", autouse=True)
def rpm_home(tmp_path_factory):
    """Debian's rpm keeps its database in $HOME/.rpmdb; the roots here (as EL's) have it
    in /var/lib/rpm: a private HOME whose .rpmmacros says so, for rpm and dnf alike."""
    home = tmp_path_factory.mktemp("rpmhome")
    (home / ".rpmmacros").write_text("%_dbpath /var/lib/rpm\n")
    ENV["HOME"] = str(home)
    yield home


ENV = dict(os.environ)


def sh(*cmd, check=True, env=None, **kwargs):
    result = subprocess.run([str(part) for part in cmd], capture_output=True, text=True,
                            check=False, env=env or ENV, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd}: {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def cli(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def make_image(base, nvr, name="node.squashfs"):
    tree = make_root_tree(base / f"tree-{nvr}", nvr=nvr)
    image = base / name
    build_image(tree, image, nvr)
    return image


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """An image (with a .sig beside it) packaged as rpm and deb repositories."""
    base = tmp_path_factory.mktemp("package")
    image = make_image(base, NVR)
    (base / "node.squashfs.sig").write_bytes(b"detached signature bytes\n")
    results = {}
    for fmt in ("rpm", "deb"):
        assert main(["image", "package", str(image), "--format", fmt,
                     "--repo", str(base / f"{fmt}repo"), "--json"]) == 0
        results[fmt] = base / f"{fmt}repo"
    newer = make_image(base, NEWER, "newer.squashfs")
    for fmt in ("rpm", "deb"):
        assert main(["image", "package", str(newer), "--format", fmt,
                     "--repo", str(base / f"{fmt}repo-newer")]) == 0
    return base, image, results


def rpm_query(path, *args):
    return sh("rpm", "-qp", "--nosignature", *args, path).stdout


def extract_rpm(path, into):
    into.mkdir(parents=True, exist_ok=True)
    data = subprocess.run(["rpm2cpio", str(path)], capture_output=True, check=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=data, cwd=into, check=True)
    return into


# --- the rpm ---------------------------------------------------------------------------

def test_rpm_names_provides_obsoletes_and_files(built):
    _, _, repos = built
    main_rpm = repos["rpm"] / f"ovirt-node-ng-image-update-{VR}.noarch.rpm"
    apply_rpm = repos["rpm"] / f"ovirt-node-ng-image-update-apply-{VR}.noarch.rpm"
    assert main_rpm.is_file() and apply_rpm.is_file()
    assert rpm_query(main_rpm, "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}") == \
        "ovirt-node-ng-image-update 4.5.6 0.20250101.0 noarch"
    provides = rpm_query(main_rpm, "--provides").split("\n")
    assert f"ovirt-node-ng-image-update-placeholder = {VR}" in provides
    assert rpm_query(main_rpm, "--obsoletes").strip() == \
        f"ovirt-node-ng-image-update-placeholder < {VR}"
    assert f"ovirt-node-ng-image-update-apply = {VR}" in rpm_query(main_rpm, "--requires")
    share = "/usr/share/ovirt-node-ng-image-update"
    assert rpm_query(main_rpm, "-l").split() == [
        share, f"{share}/image", f"{share}/image/{NVR}.squashfs.img",
        f"{share}/image/{NVR}.squashfs.img.sha256", f"{share}/image/{NVR}.squashfs.img.sig",
        f"{share}/record", f"{share}/record/ovirt-node-ng-image-update-{VR}.noarch.rpm",
        f"{share}/record/ovirt-node-ng-image-update-apply-{VR}.noarch.rpm"]
    assert rpm_query(main_rpm, "--scripts").strip() == ""
    assert rpm_query(apply_rpm, "-l").strip() == "(contains no files)"
    requires = rpm_query(apply_rpm, "--qf", "[%{REQUIRENAME} %{REQUIREFLAGS:deptype}\n]")
    assert "ovirt-node-ng-image-update pre" in requires


def test_rpm_runs_the_update_in_pre_not_post(built):
    """dnf ignores a failing %post (exit 0); a failing %pre fails the transaction."""
    _, _, repos = built
    apply_rpm = repos["rpm"] / f"ovirt-node-ng-image-update-apply-{VR}.noarch.rpm"
    scripts = rpm_query(apply_rpm, "--scripts")
    assert scripts.startswith("preinstall scriptlet (using /bin/sh):\n")
    assert "postinstall" not in scripts
    body = scripts.split("\n", 1)[1]
    assert body.strip() == package.rpm_pre_script(NVR).strip()
    image = f"/usr/share/ovirt-node-ng-image-update/image/{NVR}.squashfs.img"
    assert f"image={image}\n" in body
    assert ('ovirt-node update --image "$image" --image-package /usr/share/ovirt-node-ng-'
            f"image-update/record/ovirt-node-ng-image-update-{VR}.noarch.rpm") in body
    assert body.rstrip().endswith('rm -f "$log"') and "    exit 1\n" in body
    assert ".image-updated" not in body.replace("writes /var/imgbased/.image-updated itself",
                                                "")


def test_rpm_payload_is_the_image_its_checksum_and_signature(built, tmp_path):
    base, image, repos = built
    root = extract_rpm(repos["rpm"] / f"ovirt-node-ng-image-update-{VR}.noarch.rpm", tmp_path)
    folder = root / "usr/share/ovirt-node-ng-image-update/image"
    assert (folder / f"{NVR}.squashfs.img").read_bytes() == image.read_bytes()
    assert (folder / f"{NVR}.squashfs.img.sig").read_bytes() == \
        (base / "node.squashfs.sig").read_bytes()
    assert sh("sha256sum", "-c", f"{NVR}.squashfs.img.sha256", cwd=folder).stdout.strip() \
        == f"{NVR}.squashfs.img: OK"
    # the records: the same packages, headers only (no image bytes)
    records = root / "usr/share/ovirt-node-ng-image-update/record"
    record = records / f"ovirt-node-ng-image-update-{VR}.noarch.rpm"
    assert record.stat().st_size < 64 << 10
    assert rpm_query(record, "--provides") == rpm_query(
        repos["rpm"] / f"ovirt-node-ng-image-update-{VR}.noarch.rpm", "--provides")
    assert rpm_query(record, "-l") == rpm_query(
        repos["rpm"] / f"ovirt-node-ng-image-update-{VR}.noarch.rpm", "-l")
    assert rpm_query(record, "--qf", "[%{FILEFLAGS:fflags} ]").split()[-1] == "g"  # %ghost


# --- the deb ---------------------------------------------------------------------------

def test_deb_control_files_and_postinst(built, tmp_path):
    base, image, repos = built
    deb = repos["deb"] / f"ovirt-node-ng-image-update_{VR}_all.deb"
    fields = sh("dpkg-deb", "--field", deb).stdout
    for line in ("Package: ovirt-node-ng-image-update", f"Version: {VR}", "Architecture: all",
                 f"Provides: ovirt-node-ng-image-update-placeholder (= {VR})",
                 "Conflicts: ovirt-node-ng-image-update-placeholder",
                 "Replaces: ovirt-node-ng-image-update-placeholder"):
        assert line in fields.splitlines()
    info = sh("dpkg-deb", "-I", deb).stdout
    assert "postinst" in info and "preinst" not in info
    listing = sh("dpkg-deb", "-c", deb).stdout
    assert f"./usr/share/ovirt-node-ng-image-update/image/{NVR}.squashfs.img\n" in listing
    assert f"./usr/share/ovirt-node-ng-image-update/record/ovirt-node-ng-image-update_" \
           f"{VR}_all.deb\n" in listing
    control = tmp_path / "control"
    sh("dpkg-deb", "-e", deb, control)
    assert (control / "postinst").read_text() == package.deb_postinst(NVR)
    assert os.access(control / "postinst", os.X_OK)
    sh("sh", "-n", control / "postinst")
    data = tmp_path / "data"
    sh("dpkg-deb", "-x", deb, data)
    folder = data / "usr/share/ovirt-node-ng-image-update/image"
    assert (folder / f"{NVR}.squashfs.img").read_bytes() == image.read_bytes()
    assert (folder / f"{NVR}.squashfs.img.sig").read_bytes() == \
        (base / "node.squashfs.sig").read_bytes()
    record = data / f"usr/share/ovirt-node-ng-image-update/record/ovirt-node-ng-image-update_" \
                    f"{VR}_all.deb"
    assert sh("dpkg-deb", "--field", record).stdout == fields
    assert sh("dpkg-deb", "-c", record).stdout.count("\n") == listing.count("\n")
    sh("dpkg-deb", "-e", record, tmp_path / "record-control")
    assert sorted(os.listdir(tmp_path / "record-control")) == ["control"]


def test_postinst_binds_the_running_database_back_only_when_swapped():
    text = package.deb_postinst(NVR)
    assert text.startswith('#!/bin/sh\nset -u\ncase "$1" in configure) ;; *) exit 0 ;; esac\n')
    assert text.index("db_before=$(stat") < text.index("ovirt-node update") < \
        text.index('mount --bind "$previous" /var/lib/dpkg')
    assert "previous=/var/lib/ovirt-node/persisted/dpkg-db.previous" in text


def test_debian_versions():
    assert package.deb_version(NVR) == VR
    with pytest.raises(Exception, match="must start with a digit"):
        package.deb_version("ovirt-node-ng-v4-1")
    with pytest.raises(Exception, match="cannot be in a Debian version"):
        package.deb_version("ovirt-node-ng-4_5-1")


# --- repositories and the real clients ------------------------------------------------

def test_flat_apt_repository_with_apt_get(built, tmp_path):
    _, _, repos = built
    repo = repos["deb"]
    packages = (repo / "Packages").read_text()
    assert gzip.decompress((repo / "Packages.gz").read_bytes()).decode() == packages
    release = (repo / "Release").read_text()
    assert hashlib.sha256(packages.encode()).hexdigest() in release
    apt = Apt(tmp_path, repo)
    apt.run("update")
    policy = apt.run("policy", "ovirt-node-ng-image-update", tool="apt-cache").stdout
    assert f"Candidate: {VR}" in policy
    os.chdir(tmp_path)
    apt.run("download", "ovirt-node-ng-image-update")
    fetched = tmp_path / f"ovirt-node-ng-image-update_{VR}_all.deb"
    assert fetched.read_bytes() == (repo / fetched.name).read_bytes()
    # a node holding the placeholder (as the image does) gets it replaced
    apt.status("ovirt-node-ng-image-update-placeholder", "1.0")
    plan = apt.run("-s", "install", "ovirt-node-ng-image-update").stdout
    assert "Remv ovirt-node-ng-image-update-placeholder [1.0]" in plan
    assert f"Inst ovirt-node-ng-image-update ({VR} " in plan


class Apt:
    """apt-get/apt-cache with private state, cache, sources and preferences."""

    def __init__(self, base, *repos):
        self.base = base
        for name in ("state/lists/partial", "cache/archives/partial", "prefs"):
            (base / name).mkdir(parents=True)
        (base / "sources.list").write_text(
            "".join(f"deb [trusted=yes] file://{repo} ./\n" for repo in repos))
        self.status_file = base / "status"
        self.status_file.write_text("")

    def status(self, *pairs):
        self.status_file.write_text("\n".join(
            f"Package: {name}\nStatus: install ok installed\nVersion: {version}\n"
            "Architecture: all\nMaintainer: t <t@t>\nDescription: t\n"
            for name, version in zip(pairs[::2], pairs[1::2])))

    def options(self):
        base = self.base
        return ["-o", f"Dir::State={base}/state", "-o", f"Dir::State::status={self.status_file}",
                "-o", f"Dir::Etc::sourcelist={base}/sources.list",
                "-o", "Dir::Etc::sourceparts=/nonexistent", "-o", f"Dir::Cache={base}/cache",
                "-o", f"Dir::Etc::preferencesparts={base}/prefs",
                "-o", "Dir::Etc::preferences=/nonexistent", "-o", "Debug::NoLocking=1"]

    def run(self, *args, tool="apt-get"):
        return sh(tool, *self.options(), *args)


def test_rpm_repository_with_dnf(built, tmp_path):
    _, _, repos = built
    assert (repos["rpm"] / "repodata/repomd.xml").is_file()
    root = tmp_path / "root"
    listed = dnf(root, repos["rpm"], "repoquery", "--qf", "%{name}-%{version}-%{release}")
    assert sorted(listed.stdout.split()) == [
        f"ovirt-node-ng-image-update-{VR}", f"ovirt-node-ng-image-update-apply-{VR}"]
    obsoletes = dnf(root, repos["rpm"], "repoquery", "--obsoletes",
                    "ovirt-node-ng-image-update").stdout
    assert f"ovirt-node-ng-image-update-placeholder < {VR}" in obsoletes


def dnf(root, repo, *args, check=True, plugins=None):
    root.mkdir(exist_ok=True)
    if not (root / "var/lib/rpm").is_dir():
        sh("rpm", "--root", root, "--dbpath", "/var/lib/rpm", "--initdb")
    extra = ["--setopt=pluginconfpath=" + str(plugins)] if plugins else ["--noplugins"]
    return sh("dnf", "-q", f"--installroot={root}", "--releasever=1",
              "--setopt=reposdir=/nonexistent", "--setopt=cachedir=" + str(root / "dnfcache"),
              f"--repofrompath=node,file://{repo}", "--repo=node", "--nogpgcheck",
              "--setopt=node.metadata_expire=0", *extra, *args, check=check)


def build_rpm(tmp_path, name, version, provides=()):
    """A small noarch rpm NAME-VERSION-1 (rpmbuild), e.g. the placeholder the image holds."""
    top = tmp_path / f"top-{name}"
    spec = top / "t.spec"
    top.mkdir(parents=True)
    spec.write_text(f"Name: {name}\nVersion: {version}\nRelease: 1\nSummary: t\nLicense: MIT\n"
                    "BuildArch: noarch\n" + "".join(f"Provides: {p}\n" for p in provides) +
                    "%description\nt\n%files\n")
    sh("rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}", spec)
    return top / f"RPMS/noarch/{name}-{version}-1.noarch.rpm"


def test_dnf_install_fails_the_transaction_when_the_update_fails(built, tmp_path):
    """The real %pre, run by dnf in a root with busybox as /bin/sh and no ovirt-node:
    the update cannot run, the %pre fails and dnf fails the transaction."""
    _, _, repos = built
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "tmp").mkdir()
    shutil.copy("/bin/busybox", root / "bin/busybox")
    for tool in ("sh", "mktemp", "cat", "grep", "tail", "rm"):
        os.symlink("busybox", root / "bin" / tool)
    sh("rpm", "--root", root, "--dbpath", "/var/lib/rpm", "--initdb")
    shell = build_rpm(tmp_path, "busybox-sh", "1", provides=["/bin/sh"])
    holder = build_rpm(tmp_path, "ovirt-node-ng-image-update-placeholder", "1.0")
    sh("rpm", "--root", root, "-i", "--justdb", "--nodeps", shell, holder)
    result = dnf(root, repos["rpm"], "-y", "install", "ovirt-node-ng-image-update",
                 check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Error: Transaction failed" in result.stderr
    text = (root / "var/log/dnf.rpm.log").read_text()     # the scriptlets' output
    assert "Error in PREIN scriptlet in rpm package ovirt-node-ng-image-update-apply" in text
    assert "ovirt-node-ng-image-update: ovirt-node update --image /usr/share/ovirt-node-ng-" \
           f"image-update/image/{NVR}.squashfs.img failed with exit status 127" in text
    installed = sh("rpm", "--root", root, "-qa", "--qf", "%{NAME}\n").stdout.split()
    assert "ovirt-node-ng-image-update-apply" not in installed


def test_the_real_postinst_under_dpkg_fails_loudly(built, tmp_path):
    """dpkg --root on a root with busybox as /bin/sh and no ovirt-node: the real postinst
    runs, the update cannot, dpkg fails and leaves the package half-configured."""
    _, _, repos = built
    root = tmp_path / "root"
    for name in ("bin", "tmp", "var/lib/dpkg/info", "var/lib/dpkg/updates",
                 "var/lib/dpkg/triggers"):
        (root / name).mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    shutil.copy("/bin/busybox", root / "bin/busybox")
    for tool in ("sh", "mktemp", "cat", "grep", "tail", "rm", "stat", "mount"):
        os.symlink("busybox", root / "bin" / tool)
    env = dict(ENV, PATH="/usr/sbin:/usr/bin:/sbin:/bin")
    result = sh("dpkg", "--root", root, "--log=/dev/null",
                "-i", repos["deb"] / f"ovirt-node-ng-image-update_{VR}_all.deb", check=False,
                env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ovirt-node-ng-image-update: ovirt-node update --image /usr/share/ovirt-node-ng-" \
           f"image-update/image/{NVR}.squashfs.img failed with exit status 127" in result.stderr
    status = (root / "var/lib/dpkg/status").read_text()
    assert "Status: install ok half-configured" in status


# --- the image-package step: the new layer's database and locks -------------------------

def test_rpm_record_and_versionlock_offer_only_image_updates(built, tmp_path):
    """record() on a real rpm database; dnf with the versionlock plugin then offers
    the newer image-update and no newer version of an installed package."""
    base, _, repos = built
    target = tmp_path / "layer"
    target.mkdir()
    sh("rpm", "--root", target, "--dbpath", "/var/lib/rpm", "--initdb")
    tool = build_rpm(tmp_path, "tool", "1.0")
    holder = build_rpm(tmp_path, "ovirt-node-ng-image-update-placeholder", "1.0")
    sh("rpm", "--root", target, "-i", "--justdb", "--nodeps", tool, holder)
    records = extract_rpm(repos["rpm"] / f"ovirt-node-ng-image-update-{VR}.noarch.rpm",
                          tmp_path / "x") / "usr/share/ovirt-node-ng-image-update/record"
    files = sorted(str(path) for path in records.iterdir())
    assert imagepackage.problems(files, target) == []
    written = imagepackage.record(target, files)
    assert written == [imagepackage.VERSIONLOCK]
    installed = sh("rpm", "--root", target, "-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}\n")
    assert sorted(installed.stdout.split()) == sorted([
        "tool-1.0-1", f"ovirt-node-ng-image-update-{VR}",
        f"ovirt-node-ng-image-update-apply-{VR}"])      # the placeholder is obsoleted
    assert not (target / "usr/share/ovirt-node-ng-image-update").exists()   # --justdb
    lock = (target / imagepackage.VERSIONLOCK).read_text()
    assert [line for line in lock.splitlines() if not line.startswith("#")] == \
        ["tool-0:1.0-1.noarch"]
    # a repository with a newer tool and the newer image: only the image is offered
    repo = tmp_path / "repo"
    shutil.copytree(base / "rpmrepo-newer", repo)
    shutil.copy(build_rpm(tmp_path / "new", "tool", "2.0"), repo)
    sh("createrepo_c", "--quiet", "--update", repo)
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "versionlock.conf").write_text(
        f"[main]\nenabled=1\nlocklist={target / imagepackage.VERSIONLOCK}\n")
    offered = dnf(target, repo, "check-update", check=False,
                  plugins=plugins)
    assert offered.returncode == 100, offered.stdout + offered.stderr
    names = [line.split()[0] for line in offered.stdout.splitlines() if line.strip()]
    assert sorted(names) == sorted(["ovirt-node-ng-image-update.noarch",
                                    "ovirt-node-ng-image-update-apply.noarch"]), offered.stdout
    unlocked = dnf(target, repo, "check-update", check=False)
    assert "tool.noarch" in unlocked.stdout        # without the lock it would be offered
    same = dnf(target, repos["rpm"], "check-update", check=False, plugins=plugins)
    assert same.returncode == 0                    # the installed image is not offered again


def test_dpkg_record_and_pin_offer_only_image_updates(built, tmp_path):
    """register_deb() on a dpkg status file; apt then offers the newer image-update
    and no newer version of an installed package."""
    base, _, repos = built
    target = tmp_path / "layer"
    admin = target / "var/lib/dpkg"
    (admin / "info").mkdir(parents=True)
    (admin / "status").write_text(
        "Package: tool\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: t <t@t>\nDescription: t\n\n"
        "Package: ovirt-node-ng-image-update\nStatus: install ok installed\nVersion: 0.1-1\n"
        "Architecture: all\nMaintainer: t <t@t>\nDescription: an older one\n")
    record = tmp_path / "record"
    sh("dpkg-deb", "-x", repos["deb"] / f"ovirt-node-ng-image-update_{VR}_all.deb", record)
    files = [str(next((record / "usr/share/ovirt-node-ng-image-update/record").iterdir()))]
    assert imagepackage.problems(files, target) == []
    imagepackage.record(target, files)
    status = (admin / "status").read_text()
    assert status.count("Package: ovirt-node-ng-image-update\n") == 1
    assert f"Package: ovirt-node-ng-image-update\nStatus: install ok installed\n" \
           f"Version: {VR}\n" in status
    listed = (admin / "info/ovirt-node-ng-image-update.list").read_text().splitlines()
    assert listed[0] == "/." and \
        f"/usr/share/ovirt-node-ng-image-update/image/{NVR}.squashfs.img" in listed
    assert not (target / "usr").exists()            # nothing unpacked
    # apt with this status and the layer's preferences, a newer tool and the newer image
    repo = tmp_path / "repo"
    shutil.copytree(base / "debrepo-newer", repo)
    tool = tmp_path / "tool"
    (tool / "DEBIAN").mkdir(parents=True)
    (tool / "DEBIAN/control").write_text("Package: tool\nVersion: 2.0\nArchitecture: all\n"
                                         "Maintainer: t <t@t>\nDescription: t\n")
    sh("dpkg-deb", "-b", tool, repo / "tool_2.0_all.deb")
    package.write_apt_repo(repo)
    apt = Apt(tmp_path / "apt", repo)
    shutil.copy(admin / "status", apt.status_file)
    apt.run("update")
    free = apt.run("-s", "upgrade").stdout
    assert "Inst tool [1.0] (2.0" in free            # without the pin it would be offered
    shutil.copy(target / imagepackage.APT_PIN, tmp_path / "apt/prefs/node.pref")
    pinned = apt.run("-s", "upgrade").stdout
    insts = [line for line in pinned.splitlines() if line.startswith("Inst ")]
    assert insts == [f"Inst ovirt-node-ng-image-update [{VR}] (4.5.7-0.20250301.0 "
                     "ovirt-node-ng-image-update:ovirt-node [all])"], pinned


# --- errors -------------------------------------------------------------------------------

def test_errors_are_one_line_and_write_nothing(built, tmp_path, capsys):
    base, image, _ = built
    out = tmp_path / "out"
    out.mkdir()
    cases = [
        ([tmp_path / "missing.squashfs"], "no such file"),
        ([base / "node.squashfs.sig"], "not a squashfs"),
    ]
    tree = make_root_tree(tmp_path / "no-nvr")
    cases.append(([squash_tree(tree, tmp_path / "nonvr.squashfs")], "has no NVR"))
    for argv, words in cases:
        code, stdout, err = cli(capsys, "image", "package", *argv, "-o", out)
        assert code == 1 and stdout == ""
        errors = [line for line in err.splitlines() if line.startswith("ovirt-node: error: ")]
        assert len(errors) == 1 and err.endswith(errors[0] + "\n") and "Traceback" not in err
        assert words in errors[0], err
    assert os.listdir(out) == []
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    code, _, err = cli(capsys, "image", "package", image, "-o", locked)
    if os.geteuid() != 0:
        assert code == 1 and "not writable" in err
    code, _, err = cli(capsys, "image", "package", image, "-o", tmp_path / "a", "--repo",
                       tmp_path / "b")
    assert code == 1 and "different folders" in err
    assert cli(capsys, "image", "package", image, "-o", out)[0] == 0
    code, _, err = cli(capsys, "image", "package", image, "-o", out)
    assert code == 1 and "exists (use --force" in err
    assert cli(capsys, "image", "package", image, "-o", out, "--force")[0] == 0
    assert sorted(os.listdir(out)) == package.rpm_file_names(NVR)


def test_missing_builder_is_one_line(built, tmp_path, capsys, monkeypatch):
    _, image, _ = built
    monkeypatch.setenv("PATH", str(tmp_path))         # no rpmbuild, no dpkg-deb
    for fmt, tool in (("rpm", "rpmbuild"), ("deb", "dpkg-deb")):
        code, _, err = cli(capsys, "image", "package", image, "--format", fmt, "-o", tmp_path)
        assert code == 1 and f"'{tool}' tool is needed" in err and len(err.splitlines()) == 1
        assert err.startswith("ovirt-node: error: ")
    assert sorted(os.listdir(tmp_path)) == []


def test_json_result_describes_what_was_written(built, tmp_path, capsys):
    _, image, _ = built
    code, out, _ = cli(capsys, "image", "package", image, "--format", "deb", "--repo",
                       tmp_path / "r", "--json")
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert {"inspect", "checksum", "package", "repo"} <= \
        {event.get("step") for event in events if event["event"] == "step"}
    result = events[-1]
    assert result["event"] == "result" and result["nvr"] == NVR and result["version"] == VR
    assert result["packages"] == [{"name": "ovirt-node-ng-image-update",
                                   "file": str(tmp_path / f"r/ovirt-node-ng-image-update_"
                                                          f"{VR}_all.deb"),
                                   "size": os.path.getsize(
                                       tmp_path / f"r/ovirt-node-ng-image-update_{VR}_all.deb")}]
    assert result["repo"]["metadata"] == [str(tmp_path / "r" / name)
                                          for name in ("Packages", "Packages.gz", "Release")]
    assert sorted(os.listdir(tmp_path / "r")) == sorted(
        ["Packages", "Packages.gz", "Release", f"ovirt-node-ng-image-update_{VR}_all.deb"])
