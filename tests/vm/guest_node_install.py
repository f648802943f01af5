"""Runs inside a virtme-ng VM: install the real node image A onto /dev/vda.

Usage: python3 guest_node_install.py   (environment: OUT, IMAGE_A)
Then the test-only command port and boot masks are planted into the new
layer's /etc (tests/support/livenode.py), and the VG is deactivated so the
disk can be booted by itself. Output goes to $OUT/install.{out,err,rc}.
"""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.environ["REPO"])
from tests.support.livenode import plant_test_agent  # noqa: E402  pylint: disable=wrong-import-position

OUT = os.environ["OUT"]


def main():
    with open(os.path.join(OUT, "install.out"), "wb") as out, \
            open(os.path.join(OUT, "install.err"), "wb") as err:
        done = subprocess.run(["ovirt-node", "install", "--image", os.environ["IMAGE_A"],
                               "--disk", "/dev/vda", "--keep", "5", "--yes", "--json"],
                              stdout=out, stderr=err, stdin=subprocess.DEVNULL, check=False)
    with open(os.path.join(OUT, "install.rc"), "w", encoding="ascii") as handle:
        handle.write(str(done.returncode))
    if done.returncode != 0:
        return 1
    layer = os.environ["LAYER_A"]
    root = tempfile.mkdtemp()
    subprocess.run(["mount", f"/dev/onn/{layer}", root], check=True)
    try:
        plant_test_agent(root)
    finally:
        subprocess.run(["umount", root], check=True)
    subprocess.run(["lvm", "vgchange", "-an", "onn"], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(OUT, "install.done"), "w", encoding="ascii") as handle:
        handle.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
