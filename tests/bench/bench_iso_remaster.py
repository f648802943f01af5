"""Remaster time and memory: `ovirt-node iso remaster` vs. lorax's mkksiso vs. the floor.

Measured as a user would (issue 20 §2): each contender is one shell command
ending in `sync`, so the writeback of its output counts; the stock ISO
(~700 MiB, tests/support/stock_iso) is read once beforehand and stays in
the page cache, as it does for a user who remasters what they just
downloaded or built; before each run the last output is removed and the
dirty pages written back (sync), outside the timing. ROUNDS rounds,
alternating the contenders' order:

  ovirt-node   `ovirt-node iso remaster STOCK OUT --image IMAGE --ks KS && sync`
               (menus, the EFI image, the kickstart pointed at the image, the
               media check sum), the same task as mkksiso's below
  mkksiso      lorax's `mkksiso --ks KS -a IMAGE STOCK OUT && sync`, what
               release engineers use today, when it is reachable and can run
               here: $LORAX_SRC (a lorax checkout, run as
               $LORAX_SRC/src/bin/mkksiso with its src/ on PYTHONPATH) or an
               installed mkksiso. It needs root and loop-mounts a FAT image
               (mkefiboot rebuilds images/efiboot.img), so a kernel without
               vfat cannot run it: then the bench says why and measures the rest.
  floor        `cp STOCK OUT && md5sum OUT && sync`: the least any remaster
               with a media check sum does

Targets (medians): ovirt-node / floor <= 1.15; mkksiso / ovirt-node >= 1.5;
ovirt-node's peak memory (the largest process it waited for, xorriso
included) at most 1.25 x mkksiso's, or, where mkksiso cannot run, at most
1.25 x the ~15 MiB the issue measured for it. Outputs are checked after each
timed run, outside the timing (checkisomd5, the image, the kickstart, menus).

Run: .venv/bin/python tests/bench/bench_iso_remaster.py [--size-mib N] [--rounds N] [--json] [--keep DIR]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "bench"))

from harness import Path as BenchPath, finish, say, timed_command  # noqa: E402
from org_ovirt_node.image.build import build_image  # noqa: E402
from org_ovirt_node.iso import isofs  # noqa: E402
from tests.support.images import NVR, make_root_tree  # noqa: E402
from tests.support.stock_iso import build_stock_iso  # noqa: E402

FLOOR_FACTOR = 1.15
PEER_RATIO = 1.5
MEMORY_FACTOR = 1.25
MKKSISO_REFERENCE_MIB = 15     # the measurement of mkksiso's peak
OVIRT_NODE = Path(sys.executable).with_name("ovirt-node")
KS_NAME = "node.ks"


def find_mkksiso():
    """(command, environment, None) for a runnable mkksiso, or (None, None, why not)."""
    source = os.environ.get("LORAX_SRC")
    env = dict(os.environ)
    if source:
        script = Path(source) / "src" / "bin" / "mkksiso"
        if not script.is_file():
            return None, None, f"LORAX_SRC={source} has no src/bin/mkksiso"
        command = ["python3", str(script)]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(source) / "src"),
                                                          env.get("PYTHONPATH")]))
        env["PATH"] = os.pathsep.join([str(Path(source) / "src" / "bin"), env["PATH"]])
    elif shutil.which("mkksiso"):
        command = [shutil.which("mkksiso")]
    else:
        return None, None, ("mkksiso is not installed here (lorax is neither a Debian nor a "
                            "PyPI package) and LORAX_SRC does not name a lorax checkout")
    if os.geteuid() != 0:
        return None, None, "mkksiso needs root (mkefiboot loop-mounts a FAT image)"
    if not _kernel_has("vfat"):
        return None, None, ("this kernel has no vfat filesystem: mkksiso's mkefiboot "
                            "loop-mounts the FAT image images/efiboot.img to rebuild it")
    if not shutil.which("mkefiboot", path=env["PATH"]):
        return None, None, "mkefiboot (lorax), which mkksiso runs, is not on PATH"
    return command, env, None


def _kernel_has(fstype):
    subprocess.run(["modprobe", "-q", fstype], check=False, capture_output=True)
    with open("/proc/filesystems", encoding="ascii") as stream:
        return any(line.split()[-1] == fstype for line in stream if line.strip())


def then_sync(*command):
    """COMMAND (its words), then `sync`, as one shell command line."""
    return ["sh", "-c", '"$@" && exec sync', "bench", *[str(word) for word in command]]


def warm(path):
    """Read PATH once, so it is in the page cache."""
    with open(path, "rb") as stream:
        while stream.read(8 << 20):
            pass


def verify(out, image, work, ks_name=KS_NAME):
    """The output passes checkisomd5 and holds the image, the kickstart and edited menus."""
    subprocess.run(["checkisomd5", str(out)], check=True, capture_output=True)
    info = isofs.read_iso(str(out))
    name = os.path.basename(image)
    missing = {name, ks_name, "LiveOS/squashfs.img", "isolinux/isolinux.cfg"} - info.files
    if missing:
        raise SystemExit(f"{out} lacks {sorted(missing)}")
    check = work / "check"
    isofs.extract(str(out), ["isolinux/isolinux.cfg", name], str(check))
    if ks_name not in (check / "isolinux/isolinux.cfg").read_text():
        raise SystemExit(f"{out}: isolinux.cfg does not point at the kickstart")
    if (check / name).read_bytes() != Path(image).read_bytes():
        raise SystemExit(f"{out}: the node image on it differs from {image}")
    shutil.rmtree(check)


def run_bench(work, size_mib, rounds):
    image = str(work / "node.img")
    if not os.path.exists(image):
        build_image(make_root_tree(str(work / "root"), nvr=NVR), image, NVR)
    iso = work / "stock.iso"
    if not iso.exists():
        say(f"building a {size_mib} MiB stock boot ISO (once with --keep)")
        build_stock_iso(iso, work, stage2_size=size_mib << 20)
    kickstart = work / KS_NAME
    kickstart.write_text(f"liveimg --url=file:///run/install/repo/{os.path.basename(image)}\n"
                         "autopart --type=thinp\n")
    out = work / "out.iso"
    path = BenchPath("remaster", "a stock boot ISO into a node installer ISO")
    path.extra["iso_bytes"] = iso.stat().st_size
    path.extra["cache"] = ("the stock ISO warm (read once before the rounds); every "
                           "command ends in sync, so the output's writeback counts")
    warm(iso)

    def fresh():
        if out.exists():
            out.unlink()
        os.sync()

    def ours():
        fresh()
        sample = timed_command(then_sync(OVIRT_NODE, "iso", "remaster", iso, out,
                                         "--image", image, "--ks", kickstart))
        verify(out, image, work, ks_name=kickstart.name)
        return sample

    def floor():
        fresh()
        return timed_command(["sh", "-c", 'cp "$1" "$2" && md5sum "$2" && exec sync',
                              "floor", iso, out])

    contenders = {"ovirt-node": ours, "floor": floor}
    mkksiso, env, why_not = find_mkksiso()
    if mkksiso:
        def lorax():
            fresh()
            sample = timed_command(then_sync(*mkksiso, "--ks", kickstart, "-a", image,
                                             iso, out), env=env)
            verify(out, image, work, ks_name=kickstart.name)
            return sample
        contenders["mkksiso"] = lorax
    else:
        path.notes.append(f"mkksiso not measured: {why_not}")
    try:
        path.rounds(rounds, contenders)
    finally:
        if out.exists():
            out.unlink()
    ours_median = path.median("ovirt-node")
    path.target(f"ovirt-node / floor <= {FLOOR_FACTOR}",
                path.ratio("ovirt-node / floor", ours_median / path.median("floor")),
                FLOOR_FACTOR)
    peak = path.median("ovirt-node", "peak_mib")
    if mkksiso:
        path.target(f"mkksiso / ovirt-node >= {PEER_RATIO}",
                    path.ratio("mkksiso / ovirt-node", path.median("mkksiso") / ours_median),
                    PEER_RATIO, at_most=False)
        reference = path.median("mkksiso", "peak_mib")
        label = "mkksiso's peak, this run"
    else:
        path.target(f"mkksiso / ovirt-node >= {PEER_RATIO}", None, PEER_RATIO, at_most=False)
        reference = MKKSISO_REFERENCE_MIB
        label = f"mkksiso's ~{MKKSISO_REFERENCE_MIB} MiB as the issue measured it"
    path.target(f"ovirt-node peak MiB <= {MEMORY_FACTOR} x {label} ({reference:.0f} MiB)",
                peak, round(MEMORY_FACTOR * reference, 1), unit=" MiB")
    return [path.result()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=700,
                        help="size of the stock ISO's stage2 (default 700, a ~700 MiB ISO)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--json", action="store_true",
                        help="also write the figures to out/bench.json")
    parser.add_argument("--keep", help="work in this directory and keep it (the ISO is reused)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_iso_remaster: needs root (sync, and mkksiso's loop mounts)",
              file=sys.stderr)
        return 2
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-iso-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    try:
        results = run_bench(work, args.size_mib, max(args.rounds, 1))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return finish(results, args.json)


if __name__ == "__main__":
    sys.exit(main())
