"""The busybox demo's update image B, derived from the demo image's tree.

B is a newer release that changes an /etc default, adds one, changes the
default both the node and the image change (an /etc merge conflict), brings
new /var content and needs a separate volume the node lacks. It is built once
by `ovirt-node image build` and kept in out/demo while the demo image is not
newer. (The real node's images are tests/support/node_images.py.)
"""

import os
import subprocess
import sys

from tests.support.buildlock import build_lock
from tests.support.demo import DEMO_DIR, ensure_demo_image

NVR_A = "ovirt-node-ng-demo-4.5.5-0.1"
NVR_B = "ovirt-node-ng-demo-4.5.6-0.1"


def _write(root, path, text, mode=0o644):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(full, mode)


def newer_defaults(root, version):
    """What a newer release changes: /etc defaults, new /var content, a new volume."""
    _write(root, "etc/demo/defaults.conf", f"image_setting={version}\n")
    _write(root, "etc/demo/both.conf", f"shared_setting=image-{version}\n")
    _write(root, "etc/demo/new.conf", f"added_in={version}\n")
    _write(root, f"var/lib/demo/added-in-{version}.txt", f"new in {version}\n")
    _write(root, "var/lib/demo/state.txt", f"state of {version}, must not replace the node's\n")
    _write(root, "usr/share/ovirt-node/volumes", "/var/lib/demo-vms 1GiB\n")
    _write(root, "var/lib/demo-vms/README.txt", f"a volume {version} needs\n")


def derive_image(nvr, edit):
    """The demo tree with EDIT applied, built as image NVR; return its path."""
    image, tree = ensure_demo_image()
    with build_lock(f"demo-{nvr}"):
        return _derive(image, tree, nvr, edit)


def _derive(image, tree, nvr, edit):
    path = os.path.join(DEMO_DIR, f"{nvr}.squashfs")
    if os.path.exists(path) and os.path.getmtime(path) >= os.path.getmtime(image):
        return path
    staged = os.path.join(DEMO_DIR, f"{nvr}.tree")
    subprocess.run(["rm", "-rf", staged], check=True)
    subprocess.run(["cp", "-a", tree, staged], check=True)
    try:
        edit(staged, nvr.split("-")[-2])
        for old in (path, path + ".sha256"):
            if os.path.exists(old):
                os.unlink(old)
        subprocess.run([sys.executable, "-m", "org_ovirt_node", "image", "build", staged,
                        "-o", path, "--nvr", nvr], check=True)
    finally:
        subprocess.run(["rm", "-rf", staged], check=True)
    return path

