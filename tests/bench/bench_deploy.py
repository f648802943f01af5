"""Deploy time: block-wise sparse stream vs. Anaconda's liveimg way vs. tar pipe.

Why: the installer puts an image's LiveOS/rootfs.img onto the base LV by
copying its blocks and skipping the all-zero ones (`stream_sparse`, then
`grow_and_reidentify`), instead of making a new ext4 and copying file by file
as Anaconda's `liveimg` does (mount the image, `rsync -pogAXtlHrDx`). This
bench shows the block path is worth its complexity: it deploys the same image
three ways in one run and fails unless the block path is at least MIN_RATIO
times faster than rsync.

  block  stream_sparse(rootfs.img -> LV) + grow_and_reidentify(LV)
  rsync  mkfs.ext4 LV, mount it and rootfs.img, rsync -pogAXtlHrDx, sync, umount
  tar    mkfs.ext4 LV, mount it and rootfs.img, tar --xattrs --acls | tar -x, sync, umount

An update's new base goes through the same block path; what follows it on
both sides is a thin snapshot (the same on LVM whoever takes it; this host
has no device-mapper) and the new layer's e2fsck + new UUID. So the update
figures are

  update    ovirt-node update's base and layer: block, then new_uuid
  imgbased  imgbased's update: tar (mkfs + tar of the image), then new_uuid

and imgbased/update is printed beside the deploy ratios.

The image is built once from ~1 GiB of the host's own /usr (real binaries,
libraries and data files, hard links and xattrs kept) plus the host's kernel
and initrd, and cached as out/bench/bench.squashfs. The "LV" is a loop device
over a fresh sparse file (the host may lack device-mapper; a new sparse file
reads as zeros where unwritten, as a new thin LV does). Each method gets its
own fresh LV and starts with cold caches; its time ends after the final sync
(and umount). "written" is what the LV's backing file allocated. Each result
is checked against the image's own tree (every path's type, mode, owner, size,
link count, mtime, symlink target and xattrs, and the contents of a sample of
files), so no method can win by copying less. Needs root.

Run: .venv/bin/python tests/bench/bench_deploy.py [--json] [--image PATH] [--rebuild]
"""

import argparse
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from org_ovirt_node.errors import NodeError  # noqa: E402
from org_ovirt_node.image.build import build_image  # noqa: E402
from org_ovirt_node.image.mount import mounted_image, mounted_rootfs  # noqa: E402
from org_ovirt_node.install.deploy import (grow_and_reidentify, new_uuid,  # noqa: E402
                                           stream_sparse)
from org_ovirt_node.progress import Reporter  # noqa: E402
from org_ovirt_node.sizes import GiB, MiB, format_size  # noqa: E402
from org_ovirt_node.util.mounts import mounted  # noqa: E402
from org_ovirt_node.util.run import output, run  # noqa: E402

MIN_RATIO = 3.0
NVR = "bench-node-1.0-1"
DEFAULT_IMAGE = REPO / "out" / "bench" / "bench.squashfs"
TREE_BUDGET = 1 * GiB
# Host directories the root tree is taken from, in this order, until the budget is spent.
HOST_SOURCES = ("/usr/bin", "/usr/sbin", "/usr/share", "/usr/lib")
LV_SIZE = 8 * GiB
RSYNC_FLAGS = "-pogAXtlHrDx"   # Anaconda's liveimg payload copy
SAMPLED_FILES = 64             # files whose contents the check compares


def say(message):
    """Progress goes to stderr; stdout carries only the result."""
    print(f"==> {message}", file=sys.stderr, flush=True)


# --- the image --------------------------------------------------------------

def allocated_bytes(path):
    """Bytes PATH and everything below it take on disk; hard links count once."""
    seen = set()
    total = 0
    for info in _lstat_tree(path):
        if info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode):
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
        total += info.st_blocks * 512
    return total


def _lstat_tree(path):
    yield os.lstat(path)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            yield os.lstat(os.path.join(dirpath, name))


def pick_sources(paths, budget):
    """Return (paths to copy whole, budget left): whole directories while they fit,
    descending into the first one that does not."""
    picked = []
    for path in paths:
        if budget <= 0:
            break
        size = allocated_bytes(path)
        if size <= budget:
            picked.append(path)
            budget -= size
        elif os.path.isdir(path) and not os.path.islink(path):
            children = sorted(os.path.join(path, name) for name in os.listdir(path))
            more, budget = pick_sources(children, budget)
            picked += more
    return picked, budget


def make_host_tree(root, budget):
    """Fill ROOT with up to BUDGET bytes of the host's /usr, its kernel and initrd."""
    sources, _ = pick_sources([p for p in HOST_SOURCES if os.path.isdir(p)], budget)
    os.makedirs(root)
    # One cp for everything, so hard links between the sources stay hard links;
    # relative names, as coreutils 9.1's --parents trips over absolute ones.
    run(["cp", "-a", "--parents", *(os.path.relpath(p, "/") for p in sources), root],
        cwd="/")
    kernels = sorted(name[len("vmlinuz-"):] for name in os.listdir("/boot")
                     if name.startswith("vmlinuz-"))
    if not kernels:
        raise NodeError("the host has no /boot/vmlinuz-<version> to put into the image")
    kver = kernels[-1]
    os.makedirs(os.path.join(root, "boot"), exist_ok=True)
    shutil.copy2(f"/boot/vmlinuz-{kver}", os.path.join(root, "boot", f"vmlinuz-{kver}"))
    shutil.copy2(f"/boot/initrd.img-{kver}",
                 os.path.join(root, "boot", f"initramfs-{kver}.img"))
    os.makedirs(os.path.join(root, "etc"), exist_ok=True)
    os_release = os.path.join(root, "usr", "lib", "os-release")
    if not os.path.exists(os_release):
        os.makedirs(os.path.dirname(os_release), exist_ok=True)
        shutil.copy2("/usr/lib/os-release", os_release)
    os.symlink("../usr/lib/os-release", os.path.join(root, "etc", "os-release"))
    with open(os.path.join(root, "etc", "fstab"), "w") as stream:
        stream.write("# bench node\n")


def ensure_image(image, budget, rebuild):
    """Build node image IMAGE from a host tree unless it is already there."""
    if os.path.exists(image) and not rebuild:
        say(f"reusing {image}")
        return
    os.makedirs(os.path.dirname(image), exist_ok=True)
    tree = os.path.join(os.path.dirname(image), "root")
    shutil.rmtree(tree, ignore_errors=True)
    say(f"copying ~{format_size(budget)} of the host's /usr into {tree}")
    try:
        make_host_tree(tree, budget)
        say(f"building {image} (once; later runs reuse it)")
        build_image(tree, image, NVR)
    finally:
        shutil.rmtree(tree, ignore_errors=True)


# --- the target LV and cold caches -----------------------------------------

@contextmanager
def fresh_lv(directory, size):
    """Yield (loop device, backing file) of a new all-sparse file of SIZE bytes."""
    backing = tempfile.NamedTemporaryFile(dir=directory, prefix="lv-", suffix=".img",
                                          delete=False)
    try:
        backing.truncate(size)
        backing.close()
        device = output(["losetup", "--find", "--show", backing.name])
        try:
            yield device, backing.name
        finally:
            run(["losetup", "-d", device])
    finally:
        os.unlink(backing.name)


def drop_caches():
    """Write back and drop the page cache, so the next method starts cold."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as stream:
        stream.write("3\n")


# --- the three ways ---------------------------------------------------------

def deploy_block(image, device):
    """The installer's way: copy the data blocks, then grow and re-UUID the ext4."""
    stream_sparse(image.rootfs_img, device, Reporter())
    grow_and_reidentify(device)
    os.sync()


def deploy_rsync(image, device):
    """Anaconda's liveimg way: a new ext4, rsync of the mounted root filesystem."""
    run(["mkfs.ext4", "-q", "-F", device])
    with mounted_rootfs(image.rootfs_img) as source, mounted(device) as target:
        run(["rsync", RSYNC_FLAGS, f"{source}/", target])
        os.sync()


def deploy_tar(image, device):
    """A new ext4 and a tar pipe from the mounted root filesystem."""
    run(["mkfs.ext4", "-q", "-F", device])
    with mounted_rootfs(image.rootfs_img) as source, mounted(device) as target:
        tar_pipe(source, target)
        os.sync()


def tar_pipe(source, target):
    """`tar -C SOURCE -cf - . | tar -C TARGET -xpf -`, keeping xattrs and ACLs."""
    flags = ["--xattrs", "--acls"]
    pack = subprocess.Popen(["tar", "-C", source, *flags, "-cf", "-", "."],
                            stdout=subprocess.PIPE)
    try:
        unpack = subprocess.run(["tar", "-C", target, *flags, "-xpf", "-"],
                                stdin=pack.stdout, check=False)
    finally:
        pack.stdout.close()
        pack.wait()
    if pack.returncode or unpack.returncode:
        raise NodeError(f"tar pipe failed (exit {pack.returncode} | {unpack.returncode})")


def update_ours(image, device):
    """ovirt-node update: the block path, then the new layer's check and UUID."""
    deploy_block(image, device)
    new_uuid(device)
    os.sync()


def update_imgbased(image, device):
    """imgbased's update: mkfs + tar of the image, then the new layer's check and UUID."""
    deploy_tar(image, device)
    new_uuid(device)
    os.sync()


METHODS = {"block": deploy_block, "rsync": deploy_rsync, "tar": deploy_tar,
           "update": update_ours, "imgbased": update_imgbased}


# --- checking a result ------------------------------------------------------

def manifest(root):
    """What must be equal after a deploy: per path metadata, and a file sample's hashes."""
    entries = {}
    files = []
    for info, relpath in _walk(root):
        mode = info.st_mode
        entry = [mode, info.st_uid, info.st_gid, _xattrs(os.path.join(root, relpath))]
        if not stat.S_ISDIR(mode):
            entry += [info.st_nlink, int(info.st_mtime)]
        if stat.S_ISREG(mode):
            entry.append(info.st_size)
            files.append(relpath)
        elif stat.S_ISLNK(mode):
            entry.append(os.readlink(os.path.join(root, relpath)))
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            entry.append(info.st_rdev)
        entries[relpath] = entry
    step = max(1, len(files) // SAMPLED_FILES)
    sample = {relpath: _sha256(os.path.join(root, relpath)) for relpath in files[::step]}
    return entries, sample


def _walk(root):
    """Yield (lstat, path relative to ROOT) of ROOT and everything below, sorted."""
    yield os.lstat(root), "."
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            yield os.lstat(path), os.path.relpath(path, root)


def _xattrs(path):
    names = os.listxattr(path, follow_symlinks=False)
    return sorted((name, os.getxattr(path, name, follow_symlinks=False)) for name in names)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(MiB), b""):
            digest.update(block)
    return digest.hexdigest()


def check_copy(method, expected, device):
    """NodeError unless the tree on DEVICE matches EXPECTED (a manifest)."""
    with mounted(device, options="ro") as target:
        entries, sample = manifest(target)
    want_entries, want_sample = expected
    missing = sorted(set(want_entries) - set(entries))
    extra = sorted(set(entries) - set(want_entries))
    differ = sorted(p for p in set(entries) & set(want_entries)
                    if entries[p] != want_entries[p])
    differ += sorted(p for p in want_sample if sample.get(p) != want_sample[p])
    if missing or extra or differ:
        raise NodeError(f"{method}: the deployed tree differs from the image: "
                        f"{len(missing)} missing (e.g. {missing[:3]}), "
                        f"{len(extra)} extra (e.g. {extra[:3]}), "
                        f"{len(differ)} different (e.g. {differ[:3]})")


# --- the run ----------------------------------------------------------------

def measure(method, image_path, work, expected):
    """Deploy IMAGE_PATH onto a fresh LV with METHOD from cold caches; check it.

    Returns (seconds, bytes the LV's backing file allocated).
    """
    with fresh_lv(work, LV_SIZE) as (device, backing):
        drop_caches()
        with mounted_image(image_path) as image:
            start = time.monotonic()
            METHODS[method](image, device)
            seconds = time.monotonic() - start
        written = os.stat(backing).st_blocks * 512
        check_copy(method, expected, device)
    return seconds, written


def run_bench(image_path):
    """Time every method on IMAGE_PATH; return the result as a dict."""
    with mounted_image(image_path) as image:
        rootfs_bytes = os.path.getsize(image.rootfs_img)
        with mounted_rootfs(image.rootfs_img) as root:
            say("reading the image's tree to check the copies against")
            expected = manifest(root)
    work = tempfile.mkdtemp(prefix="bench-lv-", dir=os.path.dirname(image_path))
    timings = {}
    try:
        for method in METHODS:
            say(f"{method}: deploying onto a fresh {format_size(LV_SIZE)} sparse LV")
            timings[method] = measure(method, image_path, work, expected)
            say(f"{method}: {timings[method][0]:.1f} s, checked")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    block = timings["block"][0]
    methods = {method: {"seconds": round(seconds, 2), "written_bytes": written,
                        "vs_block": round(seconds / block, 2)}
               for method, (seconds, written) in timings.items()}
    return {
        "bench": "deploy",
        "image": str(image_path),
        "image_bytes": os.path.getsize(image_path),
        "rootfs_bytes": rootfs_bytes,
        "paths": len(expected[0]),
        "methods": methods,
        "rsync_over_block": methods["rsync"]["vs_block"],
        "tar_over_block": methods["tar"]["vs_block"],
        "imgbased_over_update": round(timings["imgbased"][0] / timings["update"][0], 2),
        "min_ratio": MIN_RATIO,
    }


def print_table(result):
    print(f"image {result['image']}: {format_size(result['image_bytes'])}, "
          f"rootfs.img {format_size(result['rootfs_bytes'])}, {result['paths']} paths")
    print(f"{'method':<8}{'seconds':>10}{'written':>14}{'vs block':>10}")
    for method, figures in result["methods"].items():
        print(f"{method:<8}{figures['seconds']:>10.2f}"
              f"{format_size(figures['written_bytes']):>14}{figures['vs_block']:>9.2f}x")
    print(f"rsync/block = {result['rsync_over_block']:.2f}x, "
          f"tar/block = {result['tar_over_block']:.2f}x (need rsync/block >= {MIN_RATIO})")
    print(f"update: imgbased's way (mkfs + tar + new layer UUID) / ovirt-node update's "
          f"(block + new layer UUID) = {result['imgbased_over_update']:.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--image", default=str(DEFAULT_IMAGE),
                        help=f"node image to deploy, built if missing (default {DEFAULT_IMAGE})")
    parser.add_argument("--tree-mib", type=int, default=TREE_BUDGET // MiB,
                        help="size of the host tree an image is built from (default 1024)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the image")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_deploy: needs root (loop devices, mounts, drop_caches)", file=sys.stderr)
        return 2
    image = os.path.abspath(args.image)
    try:
        ensure_image(image, args.tree_mib * MiB, args.rebuild)
        result = run_bench(image)
    except NodeError as error:
        print(f"bench_deploy: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    if result["rsync_over_block"] < MIN_RATIO:
        print(f"bench_deploy: FAIL: the block path is only {result['rsync_over_block']:.2f}x "
              f"faster than rsync; it must be at least {MIN_RATIO}x", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
