"""Deploy and update time: the block path vs. the physical floor vs. the peers.

Paths and contenders, each timed in every round, the order alternating:

deploy (install's and update's base)
  block        ovirt-node's deploy_image: the ext4 blocks in use, read by several
               threads that decompress the squashfs themselves, written with
               O_DIRECT; then e2fsck, resize2fs, a new UUID; sync
  floor-read   `cat LiveOS/rootfs.img > /dev/null` in the mounted image: the
               kernel decompressing the file to nowhere
  floor-write  writing the same data stretches (same offsets and bytes count)
               from memory onto a fresh LV with O_DIRECT, then fsync
  rsync        Anaconda's liveimg way: mkfs.ext4, mount, rsync -pogAXtlHrDx, sync
  targets      block <= 1.3 x the slower floor; rsync / block >= 5

update (the new base and layer of `ovirt-node update`)
  update       block as above, then the layer's e2fsck and new UUID (new_uuid)
  imgbased     imgbased's way: mkfs.ext4, tar of the image's tree into it
               (--xattrs --acls), then the same new_uuid
  target       imgbased / update >= 5

What follows the base on both sides of an update is a thin snapshot, the same
on LVM whoever takes it (this host has no device-mapper), so it is left out.

The image is built once from ~1 GiB of the host's own /usr (real binaries,
libraries and data files, hard links and xattrs kept) plus the host's kernel
and initrd, and cached as out/bench/bench.squashfs. The "LV" is a loop device
over a fresh sparse file (a new sparse file reads as zeros where unwritten,
as a new thin LV does). Every contender starts with cold caches (sync, then
drop_caches) and its time ends after its final sync. "written" is what the
LV's backing file allocated (the thin LV stays thin). Every deployed result
is checked against the image's own tree after its timing (every path's type,
mode, owner, size, link count, mtime, symlink target and xattrs, and the
contents of a sample of files), so no method can win by copying less. Needs
root.

Run: .venv/bin/python tests/bench/bench_deploy.py [--rounds N] [--json] [--image PATH] [--rebuild]
"""

import argparse
import hashlib
import mmap
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
sys.path.insert(0, str(REPO / "tests" / "bench"))

from org_ovirt_node.errors import NodeError  # noqa: E402
from org_ovirt_node.image.build import build_image  # noqa: E402
from org_ovirt_node.image.mount import mounted_image, mounted_rootfs  # noqa: E402
from org_ovirt_node.image.ext4 import used_extents  # noqa: E402
from org_ovirt_node.image.squashfs import open_file  # noqa: E402
from org_ovirt_node.install.deploy import DEFAULT_BLOCK, deploy_image, new_uuid  # noqa: E402
from org_ovirt_node.progress import Reporter  # noqa: E402
from org_ovirt_node.sizes import GiB, MiB, format_size  # noqa: E402
from org_ovirt_node.util.mounts import mounted  # noqa: E402
from org_ovirt_node.util.run import output, run  # noqa: E402
from harness import Path as BenchPath, drop_caches, finish, say, timed  # noqa: E402

FLOOR_FACTOR = 1.3    # block <= this x the slower floor
PEER_RATIO = 5.0      # rsync / block and imgbased / update at least this
ROUNDS = 3
NVR = "bench-node-1.0-1"
DEFAULT_IMAGE = REPO / "out" / "bench" / "bench.squashfs"
TREE_BUDGET = 1 * GiB
# Host directories the root tree is taken from, in this order, until the budget is spent.
HOST_SOURCES = ("/usr/bin", "/usr/sbin", "/usr/share", "/usr/lib")
LV_SIZE = 8 * GiB
RSYNC_FLAGS = "-pogAXtlHrDx"   # Anaconda's liveimg payload copy
SAMPLED_FILES = 64             # files whose contents the check compares


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


# --- the contenders ---------------------------------------------------------

def deploy_block(image, device):
    """The installer's way (install and update alike): deploy_image, then sync."""
    deploy_image(image, device, Reporter())
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


def floor_read(image):
    """The kernel decompressing rootfs.img to nowhere."""
    run(["sh", "-c", 'exec cat "$1" > /dev/null', "cat", image.rootfs_img])


def data_stretches(image_path, block=DEFAULT_BLOCK):
    """Offsets and sizes of the stretches the block path writes (used and not all zeros).

    Found once, outside any timing, by reading the image's used stretches.
    """
    with mounted_image(image_path) as image:
        total = os.path.getsize(image.rootfs_img)
        extents = used_extents(image.rootfs_img) or [(0, total)]
    offsets = sorted({offset for start, length in extents
                      for offset in range(start // block * block, start + length, block)
                      if offset < total})
    stretches = []
    buffer = mmap.mmap(-1, block)
    zeros = bytes(block)
    with open_file(image_path, "LiveOS/rootfs.img") as blocks:
        for offset in offsets:
            size = min(block, total - offset)
            blocks.read_into(offset, size, buffer)
            with memoryview(buffer) as view, view[:size] as data:
                if not zeros.startswith(data):
                    stretches.append((offset, size))
    buffer.close()
    return stretches


def floor_write(stretches, device):
    """Write STRETCHES (offset, size) of random bytes onto DEVICE with O_DIRECT, fsync."""
    buffer = mmap.mmap(-1, DEFAULT_BLOCK)
    buffer[:] = os.urandom(DEFAULT_BLOCK)
    fd = os.open(device, os.O_WRONLY | os.O_DIRECT)
    try:
        with memoryview(buffer) as view:
            for offset, size in stretches:
                with view[:size] as data:
                    os.pwritev(fd, [data], offset)
        os.fsync(fd)
    finally:
        os.close(fd)
        buffer.close()


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


@contextmanager
def mounted_here(device, directory):
    """DEVICE mounted read-only on a new folder in DIRECTORY (not /tmp, where other
    programs may walk in and keep it busy); the unmount is retried."""
    target = tempfile.mkdtemp(prefix="check-", dir=directory)
    run(["mount", "-o", "ro", device, target])
    try:
        yield target
    finally:
        for attempt in range(10):
            if run(["umount", target], check=False).returncode == 0:
                break
            time.sleep(0.5)
        else:
            run(["umount", "-l", target])
        os.rmdir(target)


def check_copy(method, expected, device, directory):
    """NodeError unless the tree on DEVICE matches EXPECTED (a manifest)."""
    with mounted_here(device, directory) as target:
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

class Bench:
    """The LVs, the image and the expected tree every contender is run against."""

    def __init__(self, image_path, work, expected):
        self.image_path, self.work, self.expected = image_path, work, expected
        self.stretches = None

    def deployed(self, method, function):
        """A contender deploying with FUNCTION onto a fresh LV from cold caches, checked."""
        def run_once():
            with fresh_lv(self.work, LV_SIZE) as (device, backing):
                drop_caches()
                with mounted_image(self.image_path) as image:
                    sample = timed(function, image, device)
                sample["written_bytes"] = os.stat(backing).st_blocks * 512
                check_copy(method, self.expected, device, self.work)
            return sample
        return run_once

    def read_floor(self):
        with mounted_image(self.image_path) as image:
            drop_caches()
            return timed(floor_read, image)

    def write_floor(self):
        with fresh_lv(self.work, LV_SIZE) as (device, backing):
            drop_caches()
            sample = timed(floor_write, self.stretches, device)
            sample["written_bytes"] = os.stat(backing).st_blocks * 512
        return sample


def run_bench(image_path, rounds=ROUNDS):
    """Time every contender of both paths on IMAGE_PATH; return the path results."""
    with mounted_image(image_path) as image:
        rootfs_bytes = os.path.getsize(image.rootfs_img)
        with mounted_rootfs(image.rootfs_img) as root:
            say("reading the image's tree to check the copies against")
            expected = manifest(root)
    work = tempfile.mkdtemp(prefix="bench-lv-", dir=os.path.dirname(image_path))
    bench = Bench(image_path, work, expected)
    say("finding the data stretches the write floor writes")
    bench.stretches = data_stretches(image_path)
    facts = {"image": f"{image_path} ({format_size(os.path.getsize(image_path))}), "
                      f"rootfs.img {format_size(rootfs_bytes)}, {len(expected[0])} paths",
             "data_written_by_floor": format_size(sum(size for _, size in bench.stretches))}
    deploy = BenchPath("deploy", "rootfs.img onto a fresh LV (install's and update's base)")
    update = BenchPath("update", "an update's new base and layer vs. imgbased's way")
    deploy.extra.update(facts)
    update.extra.update(facts)
    try:
        deploy.rounds(rounds, {"block": bench.deployed("block", deploy_block),
                               "floor-read": bench.read_floor,
                               "floor-write": bench.write_floor,
                               "rsync": bench.deployed("rsync", deploy_rsync)})
        update.rounds(rounds, {"update": bench.deployed("update", update_ours),
                               "imgbased": bench.deployed("imgbased", update_imgbased)})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    block = deploy.median("block")
    floor = max(deploy.median("floor-read"), deploy.median("floor-write"))
    deploy.target(f"block / slower floor <= {FLOOR_FACTOR}",
                  deploy.ratio("block / slower floor", block / floor), FLOOR_FACTOR)
    deploy.target(f"rsync / block >= {PEER_RATIO}",
                  deploy.ratio("rsync / block", deploy.median("rsync") / block),
                  PEER_RATIO, at_most=False)
    deploy.ratio("block cpu / wall", deploy.median("block", "cpu") / block)
    deploy.notes.append("every deployed LV was checked against the image's tree "
                        "(all paths' metadata, a sample's contents)")
    update.target(f"imgbased / update >= {PEER_RATIO}",
                  update.ratio("imgbased / update",
                               update.median("imgbased") / update.median("update")),
                  PEER_RATIO, at_most=False)
    return [deploy.result(), update.result()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true",
                        help="also write the figures to out/bench.json")
    parser.add_argument("--rounds", type=int, default=ROUNDS,
                        help=f"alternating rounds (default {ROUNDS})")
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
    # Mount points in the bench's own folder, not /tmp: programs that walk /tmp
    # (a VM sharing the host's root, say) kept mounts there busy.
    scratch = os.path.join(os.path.dirname(image), "tmp")
    os.makedirs(scratch, exist_ok=True)
    os.environ["TMPDIR"] = tempfile.tempdir = scratch
    try:
        ensure_image(image, args.tree_mib * MiB, args.rebuild)
        results = run_bench(image, max(args.rounds, 1))
    except NodeError as error:
        print(f"bench_deploy: {error}", file=sys.stderr)
        return 2
    return finish(results, args.json)


if __name__ == "__main__":
    sys.exit(main())
