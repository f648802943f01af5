"""The demo node image the VM tests and `make demo` install, built once.

The recipe (squashfs-build/demo/build.sh) runs only when out/demo holds no
image yet; the tests then compare the installed layer with its source tree.
OVIRT_NODE_DEMO_DIR names another folder, so two test runs (or a test run
and a rebuilt recipe) need not share one image.
"""

import os
import subprocess
import sys

from tests.support.vm import REPO

DEMO_DIR = os.environ.get("OVIRT_NODE_DEMO_DIR") or os.path.join(REPO, "out", "demo")
DEMO_IMAGE = os.path.join(DEMO_DIR, "demo.squashfs")
DEMO_TREE = os.path.join(DEMO_DIR, "demo.tree")


def ensure_demo_image():
    """Build the demo image if it is missing; return (image path, source tree)."""
    if not (os.path.exists(DEMO_IMAGE) and os.path.isdir(DEMO_TREE)):
        subprocess.run([os.path.join(REPO, "squashfs-build", "demo", "build.sh"), DEMO_DIR],
                       check=True, env=dict(os.environ, PYTHON=sys.executable))
    return DEMO_IMAGE, DEMO_TREE


DEMO_GUEST_SCRIPT = r"""
cd "$OUT"
echo "==> ovirt-node install --image $IMAGE --disk /dev/vda --yes"
ovirt-node install --image "$IMAGE" --disk /dev/vda --yes > install.log 2>&1
echo $? > install.rc
ovirt-node status > status.txt 2>&1
for part in /dev/vda[0-9]*; do
    if [ "$(blkid -s TYPE -o value "$part")" = ext4 ]; then
        mkdir -p /tmp/boot && mount -o ro "$part" /tmp/boot
        for entry in /tmp/boot/loader/entries/*.conf; do
            echo "# /boot/loader/entries/$(basename "$entry")"; cat "$entry"
        done > bls.txt
        umount /tmp/boot
    fi
done
lvm vgchange -an onn > /dev/null 2>&1
"""


def run_demo():
    """Install the demo image onto a fresh sparse 32 GiB disk in a VM; print the result."""
    from tests.support.vm import run_in_vm, sparse_disk

    image, _ = ensure_demo_image()
    workdir = os.path.join(DEMO_DIR, "run")
    os.makedirs(workdir, exist_ok=True)
    for name in os.listdir(workdir):
        os.unlink(os.path.join(workdir, name))
    disk = sparse_disk(os.path.join(workdir, "node-disk.img"), 32 << 30)
    print(f"Booting a VM (qemu TCG) with {disk} as /dev/vda; this takes a few minutes.")
    run_in_vm(DEMO_GUEST_SCRIPT, [disk], workdir, env={"IMAGE": image})

    def show(name):
        path = os.path.join(workdir, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                print(handle.read().rstrip())

    show("install.log")
    rc_path = os.path.join(workdir, "install.rc")
    if not os.path.exists(rc_path) or open(rc_path).read().strip() != "0":
        print("demo: the install failed (see above)", file=sys.stderr)
        return 1
    print("\n==> ovirt-node status")
    show("status.txt")
    print("\n==> boot entry")
    show("bls.txt")
    print(f"\nThe installed node disk is {disk}.")
    return 0


if __name__ == "__main__":
    sys.exit(run_demo())
