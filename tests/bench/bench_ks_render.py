"""Render kickstarts for a 10,000-host fleet and print hosts per second.

    .venv/bin/python tests/bench/bench_ks_render.py [HOSTS]

Times the two halves of `ovirt-node ks render`: reading and checking the
inventory, and rendering plus writing one pxe-unattended kickstart per host
(static addresses, half of them bonded with a VLAN).
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from org_ovirt_node.ks.inventory import load_inventory  # noqa: E402
from org_ovirt_node.ks.render import render_inventory  # noqa: E402

HEADER = """defaults:
  image_url: http://repo.example.com/images/ovirt-node-ng-4.5.5-0.20240101.0.squashfs
  checksum: sha256:{sha}
  disks: [sda, sdb]
  root_ssh_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchKey admin@example.com
  network: {{gateway: 10.0.0.1, nameservers: [10.0.0.53, 10.0.1.53]}}
  node: {{volume: {{/var/log: 16GiB}}}}
hosts:
"""
PLAIN = "  - {{hostname: n{i}.example.com, mac: '02:00:{a:02x}:{b:02x}:{c:02x}:01', " \
        "network: {{device: eno1, ip: 10.{a}.{b}.{c}/8}}}}\n"
BONDED = "  - {{hostname: n{i}.example.com, mac: '02:00:{a:02x}:{b:02x}:{c:02x}:01', " \
         "network: {{device: bond0, ip: 10.{a}.{b}.{c}/8, vlan: 100, " \
         "bond: {{slaves: [eno1, eno2], options: 'mode=802.3ad,miimon=100'}}}}}}\n"


def write_inventory(path, count):
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(HEADER.format(sha="ab" * 32))
        for i in range(count):
            a, b, c = 1 + i // 65536, (i // 256) % 256, i % 256
            stream.write((BONDED if i % 2 else PLAIN).format(i=i, a=a, b=b, c=c))


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as workdir:
        inventory = os.path.join(workdir, "hosts.yaml")
        write_inventory(inventory, count)
        start = time.perf_counter()
        hosts = load_inventory(inventory)
        loaded = time.perf_counter()
        render_inventory("pxe-unattended.ks", hosts, os.path.join(workdir, "ks"))
        done = time.perf_counter()
    print(f"ks render: {count} hosts in {done - start:.2f} s = {count / (done - start):,.0f} "
          f"hosts/s (inventory {loaded - start:.2f} s, render+write {done - loaded:.2f} s)")


if __name__ == "__main__":
    main()
