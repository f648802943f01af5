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
if [ "$(cat install.rc)" = 0 ]; then
    ovirt-node update --image "$IMAGE_B" --yes > update.log 2>&1
    echo $? > update.rc
    ovirt-node status > status-update.txt 2>&1
    ovirt-node rollback --yes > rollback.log 2>&1
    echo $? > rollback.rc
    ovirt-node status > status-rollback.txt 2>&1
fi
lvm vgchange -an onn > /dev/null 2>&1
"""


def _succeeded(rc_path):
    """True when the exit status a guest step left in RC_PATH is 0."""
    if not os.path.exists(rc_path):
        return False
    with open(rc_path, encoding="ascii") as handle:
        return handle.read().strip() == "0"


def run_demo():
    """Install the demo image onto a fresh sparse 32 GiB disk in a VM, update it to a
    newer image and roll back; print each result, then boot the disk by its own GRUB."""
    from tests.support.lifecycle_images import NVR_B, derive_image, newer_defaults
    from tests.support.nodeboot import boot_disk
    from tests.support.vm import run_in_vm, sparse_disk

    image, _ = ensure_demo_image()
    image_b = derive_image(NVR_B, newer_defaults)
    workdir = os.path.join(DEMO_DIR, "run")
    os.makedirs(workdir, exist_ok=True)
    for name in os.listdir(workdir):
        os.unlink(os.path.join(workdir, name))
    disk = sparse_disk(os.path.join(workdir, "node-disk.img"), 32 << 30)
    print(f"Booting a VM (qemu TCG) with {disk} as /dev/vda; this takes a few minutes.")
    run_in_vm(DEMO_GUEST_SCRIPT, [disk], workdir, env={"IMAGE": image, "IMAGE_B": image_b})

    def show(name):
        path = os.path.join(workdir, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                print(handle.read().rstrip())

    show("install.log")
    if not _succeeded(os.path.join(workdir, "install.rc")):
        print("demo: the install failed (see above)", file=sys.stderr)
        return 1
    print("\n==> ovirt-node status")
    show("status.txt")
    print("\n==> boot entry")
    show("bls.txt")
    for step, command in (("update", f"ovirt-node update --image {image_b} --yes"),
                          ("rollback", "ovirt-node rollback --yes")):
        print(f"\n==> {command}")
        show(f"{step}.log")
        if not _succeeded(os.path.join(workdir, f"{step}.rc")):
            print(f"demo: the {step} failed (see above)", file=sys.stderr)
            return 1
        print(f"\n==> ovirt-node status (after the {step})")
        show(f"status-{step}.txt")
    print("\n==> booting the disk through its own GRUB (SeaBIOS)")
    console = boot_disk(disk)
    shown = [line for line in console.replace("\r", "").splitlines()
             if line.startswith(("running-layer:", "OVIRT-NODE-DEMO-BOOTED", "boot-ok:"))]
    print("\n".join(shown) or console[-2000:])
    print(f"\nThe installed node disk is {disk}.")
    return 0


if __name__ == "__main__":
    sys.exit(run_demo())
