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
