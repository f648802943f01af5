"""Runs inside the VM: a real node on real LVM, with its Cockpit bridge on a port.

Usage: python3 guest_cockpit.py  (environment: OUT, IMAGE_A, DIST)

Installs image A onto /dev/vda, then serves two virtio-serial ports until
the host creates $OUT/stop:
- ovirt-node.bridge: each host connection gets a fresh `cockpit-bridge` (as
  root, the page found through XDG_DATA_DIRS), the way cockpit-ws reaches a
  remote host's bridge; the host's cockpit-ws and Chromium run at the host's
  speed, while the page's every `ovirt-node` call runs here on the node;
- ovirt-node.shell: the host test's own commands (tests/support/vmports.py).
$OUT/guest.ready (or $OUT/guest.failed with the reason) tells the host when.
"""

import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.environ["REPO"])
from tests.support import vmports  # noqa: E402

OUT = os.environ["OUT"]


def page_data_dir():
    """An XDG data dir whose cockpit/ovirt-node is the built page."""
    data = tempfile.mkdtemp()
    os.makedirs(os.path.join(data, "cockpit"))
    os.symlink(os.environ["DIST"], os.path.join(data, "cockpit", "ovirt-node"))
    return data


def start(name, handler):
    threading.Thread(target=vmports.serve, args=(name, handler), daemon=True).start()


def main():
    subprocess.run(["ovirt-node", "install", "--image", os.environ["IMAGE_A"], "--disk",
                    "/dev/vda", "--yes"], check=True, stdin=subprocess.DEVNULL)
    env = dict(os.environ, XDG_DATA_DIRS=f"{page_data_dir()}:/usr/share")
    log = open(os.path.join(OUT, "bridge.log"), "ab")
    start("ovirt-node.shell", vmports.run_commands)
    start("ovirt-node.bridge", vmports.exec_on(["cockpit-bridge"], env=env, log=log))
    with open(os.path.join(OUT, "guest.ready"), "w", encoding="utf-8") as handle:
        handle.write("ready\n")
    while not os.path.exists(os.path.join(OUT, "stop")):
        time.sleep(0.5)


if __name__ == "__main__":
    try:
        main()
    except BaseException:
        with open(os.path.join(OUT, "guest.failed"), "w", encoding="utf-8") as handle:
            handle.write(traceback.format_exc())
        raise
    finally:
        subprocess.run(["lvm", "vgchange", "-an", "onn"], check=False)
