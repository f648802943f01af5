"""`make demo` (run_demo: the real node) and the busybox demo image, built once.

The busybox recipe (squashfs-build/demo/build.sh) runs only when out/demo
holds no image yet; the engine-only VM tests install it and compare the
installed layer with its source tree.
OVIRT_NODE_DEMO_DIR names another folder, so two test runs (or a test run
and a rebuilt recipe) need not share one image.
"""

import os
import subprocess
import sys

from tests.support.buildlock import build_lock
from tests.support.vm import REPO

DEMO_DIR = os.environ.get("OVIRT_NODE_DEMO_DIR") or os.path.join(REPO, "out", "demo")
DEMO_IMAGE = os.path.join(DEMO_DIR, "demo.squashfs")
DEMO_TREE = os.path.join(DEMO_DIR, "demo.tree")


def ensure_demo_image():
    """Build the demo image if it is missing; return (image path, source tree)."""
    with build_lock("demo-image"):
        if not (os.path.exists(DEMO_IMAGE) and os.path.isdir(DEMO_TREE)):
            subprocess.run([os.path.join(REPO, "squashfs-build", "demo", "build.sh"),
                            DEMO_DIR], check=True, env=dict(os.environ, PYTHON=sys.executable))
    return DEMO_IMAGE, DEMO_TREE


COCKPIT_PROBE = (
    "import ssl, urllib.request\n"
    "context = ssl.create_default_context()\n"
    "context.check_hostname, context.verify_mode = False, ssl.CERT_NONE\n"
    "page = urllib.request.urlopen('https://localhost:9090/', context=context, timeout=120)\n"
    "text = page.read().decode('utf-8', 'replace')\n"
    "title = text.split('<title>', 1)[1].split('</title>', 1)[0] if '<title>' in text else '?'\n"
    "print(page.status, page.headers.get('Server', ''), title)\n")


def _succeeded(rc_path):
    """True when the exit status a guest step left in RC_PATH is 0."""
    if not os.path.exists(rc_path):
        return False
    with open(rc_path, encoding="ascii") as handle:
        return handle.read().strip() == "0"


def _show(title, text):
    print(f"\n==> {title}")
    print(text.rstrip())


def demo_login(node, workdir):
    """Make a demo administrator on the running node and log in to Cockpit as it.

    The image has no password for any account; the demo's own login is made
    here, at run time, with a random password, and printed as demo-only.
    Cockpit's /cockpit/login takes HTTP basic authentication (PAM), reached
    through ssh -L over the node's ssh port (no network to the VM)."""
    import base64
    import ssl
    import urllib.error
    import urllib.request
    from tests.support.nodecockpit import Admin, Tunnel

    admin = Admin(node, workdir, name="demoadmin")
    tunnel = Tunnel(node, admin, workdir)
    try:
        try:
            tunnel.open()
        except RuntimeError as error:
            return f"the demo could not reach the node's sshd: {error}"
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        token = base64.b64encode(f"{admin.name}:{admin.password}".encode()).decode()
        request = urllib.request.Request(f"https://127.0.0.1:{tunnel.port}/cockpit/login",
                                         headers={"Authorization": f"Basic {token}"})
        try:
            with urllib.request.urlopen(request, context=context, timeout=120) as answer:
                result = f"HTTP {answer.status}: logged in"
        except urllib.error.HTTPError as error:
            result = f"HTTP {error.code}: the login was refused"
        except OSError as error:
            result = f"Cockpit did not answer ({error})"
    finally:
        tunnel.close()
    return (f"DEMO ONLY, made now on the running node, never in the image: the sudo user "
            f"{admin.name}, password {admin.password}, ssh key {admin.key}\n"
            f"Cockpit's /cockpit/login through ssh -L 127.0.0.1:{tunnel.port}: {result}")


def run_demo():
    """The real node's main job: build (or reuse) it, install it onto a blank disk,
    boot it by its own GRUB, see it healthy with Cockpit answering, update it
    online and reboot into the new layer."""
    from tests.support.livenode import LiveNode
    from tests.support.node_images import LAYERS, NVRS, images_disk, node_images
    from tests.support.vm import run_in_vm, sparse_disk

    print("Building (or reusing) the real node images A and B (squashfs-build/node/) ...",
          flush=True)
    images = node_images("AB")
    workdir = os.path.join(REPO, "out", "node", "demo")
    os.makedirs(workdir, exist_ok=True)
    for name in os.listdir(workdir):
        os.unlink(os.path.join(workdir, name))
    disk = sparse_disk(os.path.join(workdir, "node-disk.img"), 32 << 30)
    drive = images_disk(os.path.join(workdir, "images.img"), [images["B"]])
    print(f"==> ovirt-node install --image {images['A']} --disk /dev/vda --yes\n"
          "    (in a qemu VM: the host kernel has no device-mapper; a few minutes)", flush=True)
    guest = os.path.join(REPO, "tests", "vm", "guest_node_install.py")
    run_in_vm(f'"{sys.executable}" "{guest}"\n', [disk], workdir,
              env={"IMAGE_A": images["A"], "LAYER_A": LAYERS["A"]})
    if not _succeeded(os.path.join(workdir, "install.rc")):
        with open(os.path.join(workdir, "install.err"), encoding="utf-8") as handle:
            print(handle.read()[-3000:], file=sys.stderr)
        print("demo: the install failed (see above)", file=sys.stderr)
        return 1
    print("    installed. DEMO ONLY: a command port (virtio-serial, no network) and boot-time "
          "masks were planted in the layer's /etc so this program can drive the node; "
          "the image itself has neither, and no password.")
    node = LiveNode(disk, workdir, drives=[drive])
    try:
        print("\n==> booting the disk through its own GRUB (SeaBIOS, qemu TCG)", flush=True)
        node.start("bios")
        state = node.wait_booted(what="A")
        _show(f"booted {node.running_layer()}: systemctl is-system-running = {state}",
              node.sh("systemctl is-active ovirt-node-health ovirt-node-boot-ok "
                      "cockpit.socket ssh", check=False))
        _show("ovirt-node health (this boot's verdict)", node.sh(
            "python3 -c \"import json; v=json.load(open('/run/ovirt-node/health.json')); "
            "print('health:', v['status'], v['failed'] or '')\"", check=False))
        _show("the login banner (/run/motd.d/ovirt-node-health)",
              node.sh("cat /run/motd.d/ovirt-node-health", check=False))
        _show("Cockpit on the node (https://localhost:9090/ fetched on the node itself)",
              node.run("python3", "-c", COCKPIT_PROBE, check=False, timeout=300)["stdout"]
              or "Cockpit did not answer")
        _show("Cockpit's login (PAM) over ssh -L, as a user made just now", demo_login(
            node, workdir))
        _show("ovirt-node status", node.sh("ovirt-node status", check=False))
        image_b = f"/run/node-images/{NVRS['B']}.squashfs"
        node.sh("mkdir -p /run/node-images && mount -o ro LABEL=node-images /run/node-images")
        print(f"\n==> ovirt-node update --image {image_b} --yes   (online, on the running node)",
              flush=True)
        update = node.run("ovirt-node", "update", "--image", image_b, "--yes", check=False)
        print((update["stderr"] + update["stdout"]).rstrip())
        if update["rc"] != 0:
            print("demo: the update failed (see above)", file=sys.stderr)
            return 1
        print("\n==> systemctl reboot", flush=True)
        state = node.reboot("B")
        _show(f"booted {node.running_layer()}: systemctl is-system-running = {state}",
              node.sh("cat /run/motd.d/ovirt-node-health", check=False))
        _show("ovirt-node status", node.sh("ovirt-node status", check=False))
        node.run("systemctl", "poweroff", check=False, timeout=30)
        node.wait_powered_off()
    finally:
        node.kill()
        print("\nboots: " + ", ".join(f"{what} {seconds:.0f} s" for what, seconds in node.timings))
    print(f"The installed node disk is {disk}.")
    return 0


if __name__ == "__main__":
    sys.exit(run_demo())
