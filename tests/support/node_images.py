"""The real node images of the VM stories, built by squashfs-build/node/build.sh.

A is the installed release; B, C and D are newer releases of the same recipe
(another NVR and os-release VERSION), to update to. The .deb of this tree is
built first (`make deb`); build.sh caches the Debian tree and each image
under /var/cache/ovirt-node (keyed by recipe, archive, .deb and NVR), so only
the first run after a change pays for them.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile

from tests.support.buildlock import build_lock
from tests.support.vm import REPO

NODE_DIR = os.environ.get("OVIRT_NODE_NODE_DIR") or os.path.join(REPO, "out", "node")
NVRS = {"A": "ovirt-node-ng-4.5.5-0.1", "B": "ovirt-node-ng-4.5.6-0.1",
        "C": "ovirt-node-ng-4.5.7-0.1", "D": "ovirt-node-ng-4.5.8-0.1"}
LAYERS = {key: nvr + "+1" for key, nvr in NVRS.items()}


def _make_deb(folder):
    """Make this tree's .deb (`make deb`) and copy it into FOLDER; return the copy.

    One `make deb` at a time (a second worker's would rewrite the file while
    the first copies it); each build reads its own copy, so no lock is held
    while images are built (build.sh takes the cache's own lock).
    """
    with build_lock("node-deb"):
        subprocess.run(["make", "--no-print-directory", "-C", REPO, "deb"], check=True,
                       stdout=subprocess.DEVNULL)
        [deb] = glob.glob(os.path.join(REPO, "out", "deb", "ovirt-node_*_all.deb"))
        return shutil.copy(deb, folder)


def _build(nvr, deb):
    env = dict(os.environ, NODE_DEB=deb, NODE_NVR=nvr, PYTHON=sys.executable)
    subprocess.run([os.path.join(REPO, "squashfs-build", "node", "build.sh"), NODE_DIR],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    return os.path.join(NODE_DIR, f"{nvr}.squashfs")


def node_image(nvr):
    """The node image NVR (built or taken from the cache); return its path."""
    return node_images_of([nvr])[nvr]


def node_images(keys="ABCD"):
    """{"A": path, ...} for KEYS."""
    paths = node_images_of([NVRS[key] for key in keys])
    return {key: paths[NVRS[key]] for key in keys}


def node_images_of(nvrs):
    """{nvr: path} of the node images NVRS, built from one .deb of this tree."""
    with tempfile.TemporaryDirectory(prefix="node-deb-") as folder:
        deb = _make_deb(folder)
        return {nvr: _build(nvr, deb) for nvr in nvrs}


def red_image(key, check_name, message):
    """Image KEY again, with a required health check CHECK_NAME that fails saying MESSAGE.

    Why: a rolling update to an image whose own required check fails is how a
    fleet meets a bad release; the check comes with the image, so nothing is
    planted on the node between the update and its reboot. The file is named
    as KEY's (same NVR) in NODE_DIR/red/; made again when KEY's image changed.
    """
    source = node_images(key)[key]
    folder = os.path.join(NODE_DIR, "red")
    target = os.path.join(folder, os.path.basename(source))
    with open(source + ".sha256", encoding="ascii") as handle:
        origin = f"{handle.read().split()[0]} {check_name} {message}\n"
    stamp = target + ".from"
    with build_lock("red-image"):
        if os.path.exists(target) and os.path.exists(stamp) and \
                open(stamp, encoding="utf-8").read() == origin:
            return target
        os.makedirs(folder, exist_ok=True)
        work = tempfile.mkdtemp(prefix="red-", dir=NODE_DIR)
        try:
            subprocess.run(["unsquashfs", "-q", "-no-progress", "-d", f"{work}/sq", source],
                           check=True, stdout=subprocess.DEVNULL)
            os.mkdir(f"{work}/mnt")
            subprocess.run(["mount", "-o", "loop,ro", f"{work}/sq/LiveOS/rootfs.img",
                            f"{work}/mnt"], check=True)
            try:
                subprocess.run(["cp", "-a", f"{work}/mnt/.", f"{work}/root"], check=True)
            finally:
                subprocess.run(["umount", f"{work}/mnt"], check=True)
            checks = f"{work}/root/etc/ovirt-node/health.d/required.d"
            os.makedirs(checks, exist_ok=True)
            with open(os.path.join(checks, check_name), "w", encoding="utf-8") as handle:
                handle.write(f"#!/bin/sh\necho \"{message}\" >&2\nexit 1\n")
            os.chmod(os.path.join(checks, check_name), 0o755)
            os.mkdir(f"{work}/out")
            built = os.path.join(work, "out", os.path.basename(source))
            subprocess.run([sys.executable, "-m", "org_ovirt_node", "image", "build",
                            f"{work}/root", "-o", built, "--nvr", NVRS[key], "--force"],
                           check=True, stdout=subprocess.DEVNULL, cwd=REPO)
            os.replace(built + ".sha256", target + ".sha256")
            os.replace(built, target)
            with open(stamp, "w", encoding="utf-8") as handle:
                handle.write(origin)
        finally:
            subprocess.run(["rm", "-rf", work], check=True)
    return target


def images_disk(path, images):
    """An ext4 disk image at PATH holding IMAGES (paths) and their .sha256 files.

    The running node mounts it read-only to update from, as an administrator
    would mount a USB stick or an NFS share.
    """
    staging = path + ".d"
    subprocess.run(["rm", "-rf", staging, path], check=True)
    os.makedirs(staging)
    total = 0
    for image in images:
        for name in (image, image + ".sha256"):
            os.link(name, os.path.join(staging, os.path.basename(name)))
            total += os.path.getsize(name)
    size_mib = total // (1 << 20) + 64
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "node-images", "-d", staging, path,
                    f"{size_mib}M"], check=True)
    subprocess.run(["rm", "-rf", staging], check=True)
    return path
