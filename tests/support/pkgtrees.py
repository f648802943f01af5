"""Real package trees for the persistence tests: a dpkg root and an rpm root.

The dpkg root is a bookworm `mmdebstrap --variant=essential` tree over the
machine's own apt sources, built once and cached under CACHE, keyed by its
recipe; tests copy it. The rpm root is made fresh (`rpm --root --initdb`)
with noarch rpms built by rpmbuild, which takes about a second.
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
import textwrap

from tests.support.buildlock import build_lock

CACHE = "/var/cache/ovirt-node/test-trees"
DPKG_RECIPE = ["mmdebstrap", "--variant=essential", "--mode=root", "--quiet",
               "--dpkgopt=path-exclude=/usr/share/doc/*",
               "--dpkgopt=path-exclude=/usr/share/man/*",
               "--dpkgopt=path-exclude=/usr/share/locale/*",
               "--dpkgopt=path-exclude=/usr/share/info/*", "bookworm"]
# The essential tree plus what a real DKMS build needs: dkms, its compiler and
# the headers of Debian's current kernel (linux-headers-amd64 names them).
DKMS_RECIPE = DPKG_RECIPE[:-1] + ["--include=dkms,linux-headers-amd64,make,gcc",
                                  "bookworm"]


def dpkg_tree():
    """The cached essential tree (built on first use); never write into it."""
    return _cached_tree(DPKG_RECIPE, "dpkg-essential")


def dkms_tree():
    """The cached tree with dkms, gcc and a kernel's headers (built on first use,
    about 120 MB of downloads); never write into it."""
    return _cached_tree(DKMS_RECIPE, "dpkg-dkms")


def headers_kernel(tree):
    """The kernel version whose headers TREE has (/lib/modules/<kver>/build)."""
    found = sorted(name for name in os.listdir(os.path.join(tree, "lib/modules"))
                   if os.path.lexists(os.path.join(tree, "lib/modules", name, "build")))
    assert len(found) == 1, found
    return found[0]


def _cached_tree(recipe, stem):
    """The tree mmdebstrap RECIPE builds, cached under CACHE by its recipe."""
    key = hashlib.sha256(repr(recipe).encode()).hexdigest()[:16]
    tree = os.path.join(CACHE, f"{stem}-{key}")
    with build_lock(f"tree-{stem}-{key}"):
        if not os.path.isfile(os.path.join(tree, "var/lib/dpkg/status")):
            _build_tree(recipe, tree)
    return tree


def _build_tree(recipe, tree):
    os.makedirs(CACHE, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".build-", dir=CACHE)
    try:
        subprocess.run(recipe + [os.path.join(work, "root")], check=True,
                       stdin=subprocess.DEVNULL, timeout=900)
        os.rename(os.path.join(work, "root"), tree)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def copy_tree(source, target):
    """A full copy of SOURCE at TARGET, owners, modes and links kept."""
    subprocess.run(["cp", "-a", source, target], check=True)
    return target


def build_deb(out_dir, name, version, postinst=None, depends=None, files=None):
    """A tiny arch-all .deb built with dpkg-deb; returns its path."""
    stage = tempfile.mkdtemp(prefix="deb-", dir=out_dir)
    os.makedirs(os.path.join(stage, "DEBIAN"))
    body = {f"usr/share/{name}/VERSION": version + "\n", **(files or {})}
    for path, text in body.items():
        os.makedirs(os.path.dirname(os.path.join(stage, path)), exist_ok=True)
        with open(os.path.join(stage, path), "w", encoding="utf-8") as handle:
            handle.write(text)
    control = (f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
               f"Maintainer: Test <test@example.org>\nDescription: test package {name}\n")
    if depends:
        control += f"Depends: {depends}\n"
    with open(os.path.join(stage, "DEBIAN/control"), "w", encoding="utf-8") as handle:
        handle.write(control)
    if postinst is not None:
        script = os.path.join(stage, "DEBIAN/postinst")
        with open(script, "w", encoding="utf-8") as handle:
            handle.write("#!/bin/sh\n" + postinst + "\n")
        os.chmod(script, 0o755)
    deb = os.path.join(out_dir, f"{name}_{version}_all.deb")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", stage, deb],
                   check=True, capture_output=True)
    shutil.rmtree(stage)
    return deb


def build_rpm(out_dir, name, version, release="1", pre=None, provides=None, files=None):
    """A tiny noarch rpm built with rpmbuild; returns its path. FILES: {path: text}
    it ships beside /usr/share/NAME/VERSION."""
    top = tempfile.mkdtemp(prefix="rpmbuild-", dir=out_dir)
    spec = os.path.join(top, f"{name}.spec")
    scriptlet = f"%pre\n{pre}\n" if pre is not None else ""
    extra = f"Provides: {provides}\n" if provides else ""
    with open(spec, "w", encoding="utf-8") as handle:
        handle.write(textwrap.dedent(f"""\
            Name: {name}
            Version: {version}
            Release: {release}
            Summary: test package {name}
            License: MIT
            BuildArch: noarch
            """) + extra + textwrap.dedent(f"""\
            %description
            test package {name}
            %install
            mkdir -p %{{buildroot}}/usr/share/{name}
            echo {version} > %{{buildroot}}/usr/share/{name}/VERSION
            """) + "".join(f"mkdir -p %{{buildroot}}{os.path.dirname(path)}\n"
                           f"echo '{text}' > %{{buildroot}}{path}\n"
                           for path, text in (files or {}).items())
            + scriptlet + textwrap.dedent(f"""\
            %files
            /usr/share/{name}
            """) + "".join(f"{path}\n" for path in (files or {})))
    subprocess.run(["rpmbuild", "--quiet", "-bb", "--define", f"_topdir {top}",
                    "--define", "_build_id_links none", "--nodeps", spec],
                   check=True, capture_output=True)
    built = os.path.join(top, "RPMS", "noarch", f"{name}-{version}-{release}.noarch.rpm")
    path = os.path.join(out_dir, os.path.basename(built))
    shutil.move(built, path)
    shutil.rmtree(top)
    return path


def rpm_tree(root, rpms=()):
    """ROOT made an rpm root: a fresh database, busybox as /bin/sh, RPMS installed."""
    os.makedirs(os.path.join(root, "bin"), exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(root, "bin/busybox"))
    os.symlink("busybox", os.path.join(root, "bin/sh"))
    subprocess.run(["rpm", "--root", root, "--dbpath", "/var/lib/rpm", "--initdb"], check=True)
    if rpms:
        subprocess.run(["rpm", "--root", root, "--dbpath", "/var/lib/rpm", "-U", *rpms],
                       check=True, capture_output=True)
    return root
