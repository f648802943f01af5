"""Kickstart tools: 10,000 hosts rendered, and one small file validated vs. ksvalidator.

Paths, each over ROUNDS alternating rounds, whole commands as a user runs
them (interpreter start-up and imports included):

ks-render    `ovirt-node ks render pxe-unattended.ks --inventory HOSTS -o DIR`
             for a 10,000-host inventory (static addresses, half of them
             bonded with a VLAN) into a fresh folder each round.
             Target: median under 2 s. Beside it, in the same rounds, the
             floor: the same number of files of the same sizes created and
             written into a fresh folder by a bare Python loop (creating
             10,000 inodes costs this VM's ext4 from 0.15 s to several
             seconds, depending on where the folder lands). Every run writes
             into a new folder and all are removed at the end: ext4 skips
             inodes freed in the last 30 s when it allocates new ones
             (recently_deleted), so removing the last round's 10,000 files
             just before a run made that run's file creation cost seconds
             of kernel time that are the bench's doing, not the command's.
ks-validate  `ovirt-node ks validate FILE` vs. pykickstart's `ksvalidator FILE`
             on one small kickstart (kickstart/interactive-defaults.ks rendered).
             Target: ovirt-node / ksvalidator <= 1.5.

Run: .venv/bin/python tests/bench/bench_ks_render.py [--hosts N] [--rounds N] [--json]
"""

import argparse
import itertools
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "bench"))

from harness import Path as BenchPath, finish, timed_command  # noqa: E402

RENDER_LIMIT_S = 2.0
VALIDATE_FACTOR = 1.5
BIN = Path(sys.executable).parent
OVIRT_NODE = BIN / "ovirt-node"
KSVALIDATOR = BIN / "ksvalidator"

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


# The floor: create a folder and write one new file per size listed, as
# open_output does (O_CREAT|O_NOFOLLOW, one write, close).
FLOOR = """
import os, sys
out, sizes = sys.argv[1], open(sys.argv[2]).read().split()
os.makedirs(out)
flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
for number, size in enumerate(sizes):
    fd = os.open(f"{out}/n{number}.example.com.ks", flags, 0o644)
    os.write(fd, b"x" * int(size))
    os.close(fd)
"""


def write_inventory(path, count):
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(HEADER.format(sha="ab" * 32))
        for i in range(count):
            a, b, c = 1 + i // 65536, (i // 256) % 256, i % 256
            stream.write((BONDED if i % 2 else PLAIN).format(i=i, a=a, b=b, c=c))


def small_kickstart(path):
    from org_ovirt_node.ks.render import render_template
    path.write_text(render_template("interactive-defaults.ks", {
        "image_url": "hd:LABEL=OVIRT-NODE:/ovirt-node.squashfs",
        "checksum": "sha256:" + "ab" * 32}))


def run_bench(work, count, rounds):
    inventory = work / "hosts.yaml"
    write_inventory(inventory, count)
    folders = (work / f"ks-{number}" for number in itertools.count())

    def render():
        out = next(folders)
        os.sync()
        sample = timed_command([OVIRT_NODE, "ks", "render", "pxe-unattended.ks",
                                "--inventory", inventory, "-o", out])
        if len(os.listdir(out)) != count:
            raise SystemExit(f"ks render wrote {len(os.listdir(out))} files, not {count}")
        return sample

    sizes = work / "sizes"

    def floor():
        os.sync()
        return timed_command([sys.executable, "-S", "-c", FLOOR, next(folders), sizes])

    render_path = BenchPath("ks-render", f"{count} hosts' kickstarts rendered and written")
    render_path.rounds(1, {"ovirt-node": render})
    # the floor writes files of the sizes ovirt-node wrote, in its first round
    sizes.write_text("\n".join(str(entry.stat().st_size)
                               for entry in os.scandir(work / "ks-0")))
    render_path.rounds(1, {"floor": floor})
    if rounds > 1:
        render_path.rounds(rounds - 1, {"floor": floor, "ovirt-node": render})
    median = render_path.median("ovirt-node")
    render_path.ratio("ovirt-node / floor", median / render_path.median("floor"))
    render_path.ratio("hosts per second", count / median)
    render_path.target(f"seconds for {count} hosts <= {RENDER_LIMIT_S}", median,
                       RENDER_LIMIT_S, unit=" s")
    render_path.extra["cpus"] = os.cpu_count()

    kickstart = work / "small.ks"
    small_kickstart(kickstart)
    validate = BenchPath("ks-validate", "one small kickstart validated")
    contenders = {"ovirt-node": lambda: timed_command([OVIRT_NODE, "ks", "validate", kickstart])}
    if KSVALIDATOR.exists():
        contenders["ksvalidator"] = lambda: timed_command([KSVALIDATOR, kickstart])
    else:
        validate.notes.append(f"ksvalidator not measured: no {KSVALIDATOR}")
    validate.rounds(max(rounds, 5), contenders)
    if KSVALIDATOR.exists():
        validate.target(f"ovirt-node / ksvalidator <= {VALIDATE_FACTOR}",
                        validate.ratio("ovirt-node / ksvalidator",
                                       validate.median("ovirt-node") /
                                       validate.median("ksvalidator")), VALIDATE_FACTOR)
    return [render_path.result(), validate.result()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000, help="hosts (default 10000)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--json", action="store_true",
                        help="also write the figures to out/bench.json")
    args = parser.parse_args()
    # On the repository's filesystem, as a PXE server writes to its disk (not tmpfs).
    os.makedirs(REPO / "out", exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-ks-", dir=REPO / "out"))
    try:
        results = run_bench(work, args.hosts, max(args.rounds, 1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return finish(results, args.json)


if __name__ == "__main__":
    sys.exit(main())
