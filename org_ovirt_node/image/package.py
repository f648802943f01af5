"""`ovirt-node image package`: a node image as the package oVirt's engine installs.

oVirt's engine updates a node by installing a newer `ovirt-node-ng-image-update`
(`yum check-update`, then `yum ... state=latest`, then it looks for
/var/imgbased/.image-updated). This module makes that package from a node
image, for both managers, with the managers' own builders:

rpm (rpmbuild), two packages of one spec, both noarch, version-release from
the image's NVR:
  ovirt-node-ng-image-update-V-R        the squashfs, its .sha256 (and .sig)
      under /usr/share/ovirt-node-ng-image-update/image/, the record
      packages below; Obsoletes/Provides ovirt-node-ng-image-update-placeholder
      (what a node image carries), Requires the -apply package.
  ovirt-node-ng-image-update-apply-V-R  no files; its %pre runs
      `ovirt-node update --image <that file> --image-package ... --yes`.
      The update runs in a %pre, not a %post, because dnf ignores a failing
      %post (measured here: "Error in POSTIN scriptlet", exit 0, package
      installed) but fails the transaction on a failing %pre. Requires(pre)
      on the image package orders the image onto the disk first.
deb (dpkg-deb): one package, ovirt-node-ng-image-update_V-R_all.deb, the same
  files, Provides/Conflicts/Replaces the placeholder (Debian's "obsoletes"),
  and a postinst that runs the update (a failing postinst fails dpkg and apt).

Either way a failed or refused update fails the transaction, with the
update's own one-line error as the script's last line. `update` itself writes
/var/imgbased/.image-updated after the switch (lifecycle/imageupdated.py);
the scripts do not write it again.

The record packages (record/ in the image package): the same packages'
headers without the image's bytes (rpm %ghost files, a .deb of empty files).
The update's image-package step (lifecycle/imagepackage.py) registers them in
the new layer's package database, as imgbased's `rpm -U --justdb --root`
does with the package file, so the new layer does not offer the update again.
"""

import gzip
import hashlib
import os
import shutil
import time

from org_ovirt_node.errors import NodeError
from org_ovirt_node.image import checksum, signature
from org_ovirt_node.image.inspect import inspect_image
from org_ovirt_node.nvr import NVR
from org_ovirt_node.progress import Reporter
from org_ovirt_node.util import safeio
from org_ovirt_node.util.run import require_tool, run

PACKAGE = "ovirt-node-ng-image-update"
APPLY = f"{PACKAGE}-apply"                  # rpm only: the %pre that runs the update
PLACEHOLDER = f"{PACKAGE}-placeholder"
SHARE = f"/usr/share/{PACKAGE}"
IMAGE_DIR = f"{SHARE}/image"
RECORD_DIR = f"{SHARE}/record"
FORMATS = ("rpm", "deb")
SUMMARY = "oVirt Node image {nvr} as an update package"
MAINTAINER = "oVirt Node <devel@ovirt.org>"
_DEB_REVISION = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+~")


# --- versions ------------------------------------------------------------------

def rpm_version(nvr):
    """(Version, Release) of the package from the image's NVR text."""
    parsed = NVR.parse(nvr)
    return parsed.version, parsed.release


def deb_version(nvr):
    """The Debian version (upstream-revision) of the image's NVR, or NodeError why not."""
    version, release = rpm_version(nvr)
    if not version[0].isdigit():
        raise NodeError(f"NVR {nvr}: a Debian version must start with a digit, "
                        f"'{version}' does not")
    bad = sorted({ch for ch in version + release if ch not in _DEB_REVISION})
    if bad:
        raise NodeError(f"NVR {nvr}: {' '.join(repr(ch) for ch in bad)} cannot be in a Debian "
                        "version (letters, digits and .+~ only)")
    return f"{version}-{release}"


def image_name(nvr):
    """The packaged image's file name, as ovirt-node-ng-image's package names it."""
    return f"{nvr}.squashfs.img"


# --- maintainer scripts ----------------------------------------------------------

def _update_script(nvr, image, records, lead):
    """Shell that runs the update and fails with its one-line error (sh, POSIX)."""
    packages = " ".join(f"--image-package {record}" for record in records)
    return f"""{lead}
# Runs the node update from the packaged image. A refused or failed update
# fails this script and so the transaction; the node keeps booting its current
# layer. ovirt-node update writes /var/imgbased/.image-updated itself.
image={image}
log=$(mktemp /tmp/{PACKAGE}.XXXXXX) || exit 1
ovirt-node update --image "$image" {packages} --yes 2>"$log"
rc=$?
cat "$log" >&2
if [ "$rc" -ne 0 ]; then
    line=$(grep '^ovirt-node: error: ' "$log" | tail -n 1)
    rm -f "$log"
    echo "{PACKAGE}: ${{line:-ovirt-node update --image $image failed with exit status $rc}}" >&2
    exit 1
fi
rm -f "$log"
"""


def rpm_pre_script(nvr):
    """The -apply package's %pre."""
    records = [f"{RECORD_DIR}/{name}" for name in rpm_file_names(nvr)]
    return _update_script(nvr, f"{IMAGE_DIR}/{image_name(nvr)}", records,
                          "# %pre of " + APPLY)


def deb_postinst(nvr):
    """The .deb's postinst (configure only)."""
    record = f"{RECORD_DIR}/{deb_file_name(nvr)}"
    body = _update_script(nvr, f"{IMAGE_DIR}/{image_name(nvr)}", [record],
                          '#!/bin/sh\nset -u\ncase "$1" in configure) ;; *) exit 0 ;; esac\n'
                          'db_before=$(stat -c %d:%i /var/lib/dpkg)')
    # On a node whose dpkg database is on the shared /var volume, the update's
    # packages step puts the new image's database at /var/lib/dpkg and keeps the
    # running one as dpkg-db.previous. This dpkg still holds the running one in
    # memory and writes it back to /var/lib/dpkg when this script returns: the
    # running database is bound back over /var/lib/dpkg for this boot, so that
    # write lands there and the new layer's database stays as the update left it.
    return body + """previous=/var/lib/ovirt-node/persisted/dpkg-db.previous
if [ "$(stat -c %d:%i /var/lib/dpkg)" != "$db_before" ] && [ -d "$previous" ] \\
        && [ "$(stat -c %d:%i "$previous")" = "$db_before" ]; then
    mount --bind "$previous" /var/lib/dpkg || {
        echo "{pkg}: could not bind the running dpkg database back over /var/lib/dpkg" >&2
        exit 1
    }
fi
exit 0
""".replace("{pkg}", PACKAGE)


# --- file names --------------------------------------------------------------------

def rpm_file_names(nvr):
    """The image package's and the -apply package's file names."""
    version, release = rpm_version(nvr)
    return [f"{PACKAGE}-{version}-{release}.noarch.rpm",
            f"{APPLY}-{version}-{release}.noarch.rpm"]


def deb_file_name(nvr):
    """The .deb's file name."""
    return f"{PACKAGE}_{deb_version(nvr)}_all.deb"


def file_names(nvr, fmt):
    """The files `image package` writes for FMT."""
    return rpm_file_names(nvr) if fmt == "rpm" else [deb_file_name(nvr)]


# --- rpm ---------------------------------------------------------------------------

def rpm_spec(nvr, payload, record):
    """The spec: PAYLOAD {name: source path} goes to IMAGE_DIR; RECORD {name: path}
    to RECORD_DIR. With RECORD None this is the record build (%ghost, no bytes)."""
    version, release = rpm_version(nvr)
    evr = f"{version}-{release}"
    ghost = record is None
    files = [f"{IMAGE_DIR}/{name}" for name in sorted(payload)]
    files += [f"{RECORD_DIR}/{name}" for name in (rpm_file_names(nvr) if ghost
                                                  else sorted(record))]
    install = [f"mkdir -p %{{buildroot}}{IMAGE_DIR} %{{buildroot}}{RECORD_DIR}"]
    if not ghost:
        install += [f"cp -l '{src}' %{{buildroot}}{IMAGE_DIR}/{name} 2>/dev/null || "
                    f"cp '{src}' %{{buildroot}}{IMAGE_DIR}/{name}"
                    for name, src in sorted(payload.items())]
        install += [f"cp '{src}' %{{buildroot}}{RECORD_DIR}/{name}"
                    for name, src in sorted(record.items())]
    listed = "\n".join(("%ghost " if ghost else "") + path for path in files)
    return f"""Name: {PACKAGE}
Version: {version}
Release: {release}
Summary: {SUMMARY.format(nvr=nvr)}
License: GPL-2.0-or-later
URL: https://www.ovirt.org/
BuildArch: noarch
AutoReqProv: no
Requires: {APPLY} = {evr}
Obsoletes: {PLACEHOLDER} < {evr}
Provides: {PLACEHOLDER} = {evr}

%description
The oVirt Node image {nvr}. Installing it updates the node to that image:
the {APPLY} package it pulls in runs ovirt-node update in its %pre.

%package apply
Summary: Runs the update of the node to {nvr}
Requires(pre): {PACKAGE} = {evr}
Requires(pre): /bin/sh

%description apply
Its %pre runs ovirt-node update --image {IMAGE_DIR}/{image_name(nvr)}. A refused or
failed update fails the transaction; the node keeps booting its current layer.

{"" if ghost else "%pre apply" + chr(10) + rpm_pre_script(nvr)}
%install
{chr(10).join(install)}

%files
%dir {SHARE}
%dir {IMAGE_DIR}
%dir {RECORD_DIR}
{listed}

%files apply
"""


def _rpmbuild(spec_text, topdir, reporter):
    spec = os.path.join(topdir, f"{PACKAGE}.spec")
    with open(spec, "w", encoding="utf-8") as stream:
        stream.write(spec_text)
    run(["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {topdir}",
         # squashfs is compressed already: an uncompressed payload, no brp scripts
         "--define", "_binary_payload w0.ufdio", "--define", "__os_install_post %{nil}",
         "--define", "_build_id_links none", "--define", "_rpmdir %{_topdir}/RPMS",
         "--define", "_rpmfilename %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm", spec])
    return os.path.join(topdir, "RPMS")


def _build_rpm(nvr, payload, stage, reporter):
    reporter.info("rpmbuild: the record packages (headers only)")
    record_top = os.path.join(stage, "record")
    os.makedirs(record_top)
    built = _rpmbuild(rpm_spec(nvr, payload, None), record_top, reporter)
    record = {name: os.path.join(built, name) for name in rpm_file_names(nvr)}
    reporter.info("rpmbuild: the image package")
    top = os.path.join(stage, "rpm")
    os.makedirs(top)
    built = _rpmbuild(rpm_spec(nvr, payload, record), top, reporter)
    return [os.path.join(built, name) for name in rpm_file_names(nvr)]


# --- deb ---------------------------------------------------------------------------

def deb_control(nvr, installed_kib):
    """The .deb's control file."""
    version = deb_version(nvr)
    return (f"Package: {PACKAGE}\nVersion: {version}\nArchitecture: all\n"
            f"Maintainer: {MAINTAINER}\nInstalled-Size: {installed_kib}\n"
            "Section: admin\nPriority: optional\n"
            f"Provides: {PLACEHOLDER} (= {version})\n"
            f"Conflicts: {PLACEHOLDER}\nReplaces: {PLACEHOLDER}\n"
            f"Description: {SUMMARY.format(nvr=nvr)}\n"
            f" Installing it updates the node to the image {nvr}: its postinst runs\n"
            f" ovirt-node update --image {IMAGE_DIR}/{image_name(nvr)}.\n")


def _deb_tree(root, nvr, payload, record, empty, installed_kib):
    image_dir = os.path.join(root, IMAGE_DIR.lstrip("/"))
    record_dir = os.path.join(root, RECORD_DIR.lstrip("/"))
    os.makedirs(image_dir)
    os.makedirs(record_dir)
    for name, source in sorted(payload.items()):
        target = os.path.join(image_dir, name)
        if empty:
            open(target, "wb").close()
            continue
        _link_or_copy(source, target)
    names = [deb_file_name(nvr)] if record is None else sorted(record)
    for name in names:
        target = os.path.join(record_dir, name)
        if record is None:
            open(target, "wb").close()
        else:
            shutil.copyfile(record[name], target)
    control = os.path.join(root, "DEBIAN")
    os.makedirs(control)
    with open(os.path.join(control, "control"), "w", encoding="utf-8") as stream:
        stream.write(deb_control(nvr, installed_kib))
    if record is not None:
        postinst = os.path.join(control, "postinst")
        with open(postinst, "w", encoding="utf-8") as stream:
            stream.write(deb_postinst(nvr))
        os.chmod(postinst, 0o755)
    for directory, dirs, files in os.walk(root):
        os.chmod(directory, 0o755)
        for name in files:
            path = os.path.join(directory, name)
            if name != "postinst":
                os.chmod(path, 0o644)


def _dpkg_deb(root, output):
    run(["dpkg-deb", "--root-owner-group", "-Znone", "--build", root, output])
    return output


def _build_deb(nvr, payload, stage, reporter):
    reporter.info("dpkg-deb: the record package (no image bytes)")
    # Installed-Size: the image's files (the record and the control are the same)
    kib = max(1, sum((os.path.getsize(path) + 1023) // 1024 for path in payload.values()))
    record_root = os.path.join(stage, "record")
    _deb_tree(record_root, nvr, payload, None, empty=True, installed_kib=kib)
    record = {deb_file_name(nvr): _dpkg_deb(record_root, os.path.join(stage, "record.deb"))}
    reporter.info("dpkg-deb: the image package")
    root = os.path.join(stage, "deb")
    _deb_tree(root, nvr, payload, record, empty=False, installed_kib=kib)
    return [_dpkg_deb(root, os.path.join(stage, deb_file_name(nvr)))]


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


# --- repositories --------------------------------------------------------------------

def _hashes(path):
    digests = {"MD5sum": hashlib.md5(), "SHA1": hashlib.sha1(), "SHA256": hashlib.sha256()}
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            for digest in digests.values():
                digest.update(block)
    return {key: digest.hexdigest() for key, digest in digests.items()}


def apt_packages_index(directory):
    """The flat repository's Packages text: every *.deb in DIRECTORY, as
    dpkg-scanpackages writes it (control, Filename, Size, hashes)."""
    stanzas = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if not name.endswith(".deb") or not os.path.isfile(path) or os.path.islink(path):
            continue
        control = run(["dpkg-deb", "--field", path]).stdout.rstrip("\n")
        extra = [f"Filename: ./{name}", f"Size: {os.path.getsize(path)}"]
        extra += [f"{key}: {value}" for key, value in _hashes(path).items()]
        lines = control.splitlines()
        # the fields dpkg-scanpackages adds go before Description, as it puts them
        at = next((i for i, line in enumerate(lines) if line.startswith("Description:")),
                  len(lines))
        stanzas.append("\n".join(lines[:at] + extra + lines[at:]) + "\n")
    return "\n".join(stanzas)


def write_apt_repo(directory):
    """Packages, Packages.gz and Release of a flat apt repository in DIRECTORY
    (`deb [trusted=yes] file:///DIRECTORY ./`). Returns the files written."""
    packages = apt_packages_index(directory).encode("utf-8")
    packages_gz = gzip.compress(packages, mtime=0)
    files = {"Packages": packages, "Packages.gz": packages_gz}
    date = time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime())
    release = ["Origin: ovirt-node", f"Label: {PACKAGE}", "Suite: ovirt-node",
               "Codename: ovirt-node", f"Date: {date}", "Architectures: all",
               "Description: oVirt Node image update packages"]
    for field, algorithm in (("MD5Sum", "md5"), ("SHA256", "sha256")):
        release.append(f"{field}:")
        release += [f" {hashlib.new(algorithm, data).hexdigest()} {len(data):>16} {name}"
                    for name, data in files.items()]
    files["Release"] = ("\n".join(release) + "\n").encode("utf-8")
    written = []
    for name, data in files.items():
        target = safeio.check_replaceable(os.path.join(directory, name))
        partial = os.path.join(directory, f".{name}.partial")
        with safeio.open_output(partial, binary=True) as stream:
            stream.write(data)
        os.replace(partial, target)
        written.append(target)
    return written


def write_rpm_repo(directory):
    """createrepo_c metadata over every rpm in DIRECTORY. Returns repodata's path."""
    repodata = os.path.join(directory, "repodata")
    if os.path.islink(repodata) or (os.path.lexists(repodata) and not os.path.isdir(repodata)):
        raise NodeError(f"{repodata}: not a directory; refusing to write through it")
    run(["createrepo_c", "--quiet", "--update", directory] if os.path.isdir(repodata)
        else ["createrepo_c", "--quiet", directory])
    return repodata


# --- the command -----------------------------------------------------------------------

def check_tools(fmt, repo):
    """Every tool FMT (and REPO) needs, before any work."""
    if fmt == "rpm":
        require_tool("rpmbuild", "rpm")
        if repo:
            require_tool("createrepo_c", "createrepo-c")
    else:
        require_tool("dpkg-deb", "dpkg")


def build_package(image, fmt="rpm", output=None, repo=None, force=False, reporter=None):
    """Package node IMAGE as FMT into OUTPUT (or REPO, which then gets the metadata).

    Returns the result dict (`--json`). Nothing is written but the package
    files (and the repository's metadata): they are built in a hidden
    temporary folder in the output folder and renamed into place.
    """
    reporter = reporter or Reporter()
    if fmt not in FORMATS:
        raise NodeError(f"unknown package format '{fmt}' (rpm or deb)")
    if output is not None and repo is not None and \
            os.path.realpath(output) != os.path.realpath(repo):
        raise NodeError("-o and --repo name different folders: the repository holds the "
                        "packages, give one of them")
    directory = repo if repo is not None else (output if output is not None else ".")
    safeio.check_input_file(image, "image")
    check_tools(fmt, repo)
    safeio.check_output_dir(directory, create=True)
    reporter.step("inspect", f"Inspecting {image}")
    info = inspect_image(image, reporter=reporter)
    nvr = info.nvr
    names = file_names(nvr, fmt)              # the version check, before any build
    targets = [safeio.check_output_file(os.path.join(directory, name), force=force,
                                        what="package") for name in names]
    stage = safeio.make_temp_dir("package", directory=directory, hidden=True)
    try:
        payload = {image_name(nvr): info.path}
        # the .sha256 names the packaged file (sha256sum's format), so it is written anew
        sums = checksum.checksum_path(os.path.join(stage, image_name(nvr)))
        with open(sums, "w", encoding="utf-8") as stream:
            stream.write(f"{info.sha256}  {image_name(nvr)}\n")
        payload[os.path.basename(sums)] = sums
        sig = signature.signature_path(info.path)
        if os.path.isfile(sig):
            payload[image_name(nvr) + signature.SIG_SUFFIX] = sig
        reporter.step("package", f"Building the {fmt} package of {nvr}")
        built = (_build_rpm if fmt == "rpm" else _build_deb)(nvr, payload, stage, reporter)
        for source, target in zip(built, targets):
            os.replace(source, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    result = {"image": info.path, "nvr": nvr, "format": fmt,
              "version": (deb_version(nvr) if fmt == "deb" else "-".join(rpm_version(nvr))),
              "checksum_verified": info.checksum_verified,
              "signature": image_name(nvr) + signature.SIG_SUFFIX if
              os.path.isfile(signature.signature_path(info.path)) else None,
              "packages": [{"name": _name_of(target), "file": os.path.abspath(target),
                            "size": os.path.getsize(target)} for target in targets],
              "repo": None}
    if repo is not None:
        reporter.step("repo", f"Writing the {fmt} repository metadata in {repo}")
        if fmt == "rpm":
            written = [write_rpm_repo(repo)]
            source = f"dnf --repofrompath=ovirt-node,file://{os.path.abspath(repo)}"
        else:
            written = write_apt_repo(repo)
            source = f"deb [trusted=yes] file://{os.path.abspath(repo)} ./"
        result["repo"] = {"path": os.path.abspath(repo),
                          "metadata": [os.path.abspath(path) for path in written],
                          "source": source}
    return result


def _name_of(path):
    name = os.path.basename(path)
    return APPLY if name.startswith(APPLY + "-") else PACKAGE


def describe(result):
    """The result as text lines."""
    lines = [f"{package['file']} ({package['name']} {result['version']})"
             for package in result["packages"]]
    if result["repo"]:
        lines.append(f"repository: {result['repo']['path']} ({result['repo']['source']})")
    return lines
