"""The real node images of the VM stories, built by squashfs-build/node/build.sh.

A is the installed release; B, C and D are newer releases of the same recipe
(another NVR and os-release VERSION), to update to. The .deb of this tree is
built first (`make deb`); build.sh caches the Debian tree and each image
under /var/cache/ovirt-node (keyed by recipe, archive, .deb and NVR), so only
the first run after a change pays for them.
"""

import glob
import os
import subprocess
import sys

from tests.support.vm import REPO

NODE_DIR = os.environ.get("OVIRT_NODE_NODE_DIR") or os.path.join(REPO, "out", "node")
NVRS = {"A": "ovirt-node-ng-4.5.5-0.1", "B": "ovirt-node-ng-4.5.6-0.1",
        "C": "ovirt-node-ng-4.5.7-0.1", "D": "ovirt-node-ng-4.5.8-0.1"}
LAYERS = {key: nvr + "+1" for key, nvr in NVRS.items()}


def node_deb():
    """Build this tree's ovirt-node .deb; return its path."""
    subprocess.run(["make", "--no-print-directory", "-C", REPO, "deb"], check=True,
                   stdout=subprocess.DEVNULL)
    [deb] = glob.glob(os.path.join(REPO, "out", "deb", "ovirt-node_*_all.deb"))
    return deb


def node_image(nvr, deb=None):
    """The node image NVR (built or taken from the cache); return its path."""
    deb = deb or node_deb()
    env = dict(os.environ, NODE_DEB=deb, NODE_NVR=nvr, PYTHON=sys.executable)
    subprocess.run([os.path.join(REPO, "squashfs-build", "node", "build.sh"), NODE_DIR],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    return os.path.join(NODE_DIR, f"{nvr}.squashfs")


def node_images(keys="ABCD"):
    """{"A": path, ...} for KEYS."""
    deb = node_deb()
    return {key: node_image(NVRS[key], deb) for key in keys}


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
