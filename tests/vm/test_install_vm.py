"""Install the demo image onto blank virtual disks on real LVM (qemu TCG VM),
then check the result with LVM's own tools, and show that refused installs
leave their disks byte-for-byte unchanged. Booting an installed disk by its
firmware (SeaBIOS and OVMF running the disk's own GRUB) and GRUB's boot
counting on real boots are the node story's (tests/vm/test_node_vm.py: the
real node, BIOS and UEFI boots, a layer that fails its tries and falls back).

One VM runs every install scenario (boots are slow under TCG); the guest only
records facts into files, and the assertions below read them.
"""

import json
import os
import re
import subprocess

import pytest

from org_ovirt_node.util.bls import parse_bls
from org_ovirt_node.util.grubenv import parse_grubenv
from tests.support.demo import ensure_demo_image
from tests.support.manifest import assert_same_files, sha256
from tests.support.vm import run_in_vm, sparse_disk

pytestmark = pytest.mark.vm
GiB = 1 << 30
TREE_NVR = "ovirt-node-ng-tree-4.5.5-0.1"

GUEST_SCRIPT = r"""
cd "$OUT"
step() { name=$1; shift; "$@" > "$name.out" 2> "$name.err"; echo $? > "$name.rc"; }
step dirty ovirt-node install --image "$IMAGE" --disk /dev/vdb --yes
step midfail ovirt-node install --image "$CORRUPT_IMAGE" --disk /dev/vdd --vg failvg \
    --swap 1GiB --volumes minimal --yes
wipefs --no-act --json /dev/vdd > midfail.wipefs 2>&1
lvm vgs failvg > /dev/null 2>&1; echo $? > midfail.vgs.rc
step badimage ovirt-node install --image "$BAD_IMAGE" --disk /dev/vdc --yes
step noconfirm ovirt-node install --image "$IMAGE" --disk /dev/vda < /dev/null
step dryrun ovirt-node install --image "$IMAGE" --disk /dev/vda --dry-run --json
step install ovirt-node install --image "$IMAGE" --disk /dev/vda --yes --json
step tree ovirt-node install --image "$TREE_IMAGE" --disk /dev/vde --vg treevg --swap 1GiB \
    --volumes minimal --wipe --no-bootloader --yes
step tree_facts python3 "$REPO/tests/vm/guest_facts.py" treevg "$OUT" tree-facts.json
lvm vgchange -an treevg > /dev/null 2>&1
step status ovirt-node status --vg onn --json      # treevg is a node layout too
step status_text ovirt-node status --vg onn
step facts python3 "$REPO/tests/vm/guest_facts.py" onn "$OUT"
lvm vgchange -an onn > /dev/null 2>&1
echo GUEST-DONE > done
"""


def make_corrupt_image(source, path):
    """A copy of SOURCE whose middle zstd data block is damaged, without a .sha256.

    It inspects fine (the metadata inspection reads is intact), but reading
    the root filesystem fails part-way with an I/O error: bad install media.
    """
    data = bytearray(open(source, "rb").read())
    frames = [m.start() for m in re.finditer(re.escape(b"\x28\xb5\x2f\xfd"), data)]
    middle = min(frames, key=lambda offset: abs(offset - len(data) // 2))
    data[middle:middle + 32] = bytes(32)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def make_tree_image(tree, nvr, workdir):
    """A plain-tree image: a squashfs whose top is the root tree itself."""
    staged = workdir / "tree-image-root"
    subprocess.run(["cp", "-a", tree, str(staged)], check=True)
    meta = staged / "usr/share/imgbase/build/meta"
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "nvr").write_text(nvr + "\n")
    path = workdir / "tree.squashfs"
    subprocess.run(["mksquashfs", str(staged), str(path), "-comp", "zstd", "-noappend",
                    "-quiet", "-no-progress"], check=True)
    subprocess.run(["rm", "-rf", str(staged)], check=True)
    return str(path)


def make_dirty_disk(path, size=GiB):
    """A disk with a GPT, one partition and an ext4 on it."""
    sparse_disk(path, size)
    subprocess.run(["sgdisk", "--new=1:2048:+256M", path], check=True, capture_output=True)
    subprocess.run(["mkfs.ext4", "-q", "-E", "offset=1048576", path, "262144"], check=True)
    return path


@pytest.fixture(scope="module")
def vm_run(tmp_path_factory):
    """Run all scenarios in one VM; return (outdir, disks, hashes before, console)."""
    image, tree = ensure_demo_image()
    work = tmp_path_factory.mktemp("vm")
    tree_image = make_tree_image(tree, TREE_NVR, work)
    bad_image = work / "bad.squashfs"
    bad_image.write_bytes(os.urandom(64 * 1024))
    corrupt_image = make_corrupt_image(image, str(work / "corrupt.squashfs"))
    disks = {"target": sparse_disk(str(work / "node.img"), 32 * GiB),
             "dirty": make_dirty_disk(str(work / "dirty.img")),
             "blank": sparse_disk(str(work / "blank.img"), GiB),
             "midfail": sparse_disk(str(work / "midfail.img"), 16 * GiB),
             "tree": make_dirty_disk(str(work / "tree.img"), 16 * GiB)}
    before = {name: sha256(disks[name]) for name in ("dirty", "blank")}
    result = run_in_vm(GUEST_SCRIPT, [disks["target"], disks["dirty"], disks["blank"],
                                      disks["midfail"], disks["tree"]], str(work),
                       env={"IMAGE": image, "BAD_IMAGE": str(bad_image),
                            "CORRUPT_IMAGE": corrupt_image, "TREE_IMAGE": tree_image},
                       timeout=3600)    # seven installs under TCG, on a host other VMs share
    assert (work / "done").exists(), result.stdout[-3000:]
    return work, disks, before, result.stdout


def read(work, name):
    return (work / name).read_text()


def error_lines(stderr):
    """The error lines of a failed run's stderr; a traceback fails the test."""
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("ovirt-node: error:")]


def facts(work):
    return json.loads(read(work, "facts.json"))


def test_install_succeeds_with_json_progress(vm_run):
    work = vm_run[0]
    assert read(work, "install.rc").strip() == "0", read(work, "install.err")
    events = [json.loads(line) for line in read(work, "install.out").splitlines()]
    steps = [e["step"] for e in events if e["event"] == "step"]
    assert steps == ["inspect", "disks", "layout", "deploy", "layer", "volumes", "boot",
                     "bootloader"]
    progress = [e for e in events if e["event"] == "progress" and e["step"] == "deploy"]
    assert progress[-1]["percent"] == 100 and progress[-1]["done"] == progress[-1]["total"]
    assert events[-1]["event"] == "result"


def test_dry_run_prints_the_plan(vm_run):
    work = vm_run[0]
    assert read(work, "dryrun.rc").strip() == "0"
    plan = json.loads(read(work, "dryrun.out").splitlines()[-1])["plan"]
    assert plan["vg"] == "onn" and plan["pool"] == "pool00"


def test_lvm_tags_and_base_layer_flags(vm_run):
    data = facts(vm_run[0])
    lvs = {lv["lv_name"]: lv for lv in data["lvs"]}
    assert data["vgs"][0]["vg_tags"] == "imgbased:vg"
    assert "imgbased:pool" in lvs["pool00"]["lv_tags"]
    assert lvs["pool00"]["lv_profile"] == "imgbased-pool"
    assert int(lvs["pool00"]["lv_metadata_size"]) == GiB
    [base] = data["tagged_bases"]
    layer = base + "+1"
    assert lvs[base]["lv_permissions"] == "read-only"
    assert lvs[base]["lv_skip_activation"] == "skip activation"
    assert lvs[base]["lv_active"] != "active"
    assert lvs[layer]["origin"] == base and "imgbased:layer" in lvs[layer]["lv_tags"]
    assert lvs[layer]["lv_skip_activation"] != "skip activation"
    assert int(lvs[layer]["lv_size"]) >= 6 * GiB
    volumes = {name: lv for name, lv in lvs.items() if "imgbased:volume" in lv["lv_tags"]}
    assert {name: int(lv["lv_size"]) for name, lv in volumes.items()} == {
        "var": 5 * GiB, "var_log": 8 * GiB, "var_log_audit": 2 * GiB, "var_tmp": 10 * GiB,
        "var_crash": 10 * GiB, "home": GiB, "tmp": GiB}
    assert all(lv["pool_lv"] == "pool00" for lv in volumes.values())
    assert "swap" in lvs and lvs["swap"]["pool_lv"] == ""


def test_new_filesystem_uuids_and_grown_root(vm_run):
    data = facts(vm_run[0])
    assert data["base_uuid"] and data["layer_uuid"] and data["base_uuid"] != data["layer_uuid"]
    root_line = data["df"].splitlines()[1].split()     # df lists the layer's root first
    assert root_line[1] == "ext4"
    assert int(root_line[2]) > 5 * GiB, data["df"]    # grown from the small image to the LV


def test_fstab_and_boot_entry(vm_run):
    data = facts(vm_run[0])
    [base] = data["tagged_bases"]
    layer = base + "+1"
    lines = [line.split() for line in data["fstab"].splitlines() if line and line[0] != "#"]
    by_mount = {fields[1]: fields for fields in lines}
    assert by_mount["/"][:4] == [f"/dev/onn/{layer}", "/", "ext4", "defaults,discard"]
    assert by_mount["/boot"][0].startswith("UUID=") and by_mount["/boot"][2] == "ext4"
    assert by_mount["/boot/efi"][2] == "vfat"
    for mount in ("/var", "/var/log", "/var/log/audit", "/var/tmp", "/var/crash", "/home",
                  "/tmp"):
        assert "discard" in by_mount[mount][3], mount
    assert any(fields[2] == "swap" for fields in lines)
    [(name, text)] = data["bls"].items()
    entry = parse_bls(text)
    kver = entry["version"]
    assert name == f"{layer}-{kver}.conf"
    assert entry["title"] == f"{base} ({kver})"
    options = entry["options"].split()
    assert options[:4] == [f"root=/dev/onn/{layer}", f"rd.lvm.lv=onn/{layer}",
                           "rootflags=discard", f"img.bootid={layer}"]
    assert "console=ttyS0" in options          # the image's own arguments follow
    assert parse_grubenv(data["grubenv"].encode())["saved_entry"] == f"{layer}-{kver}"
    assert sorted(data["boot_files"]) == [f"initramfs-{kver}.img", f"vmlinuz-{kver}"]
    assert "thin_pool_autoextend_threshold = 70" in data["profile"]


def test_grub_installed_for_bios_and_uefi_from_the_entries(vm_run):
    data = facts(vm_run[0])
    [entry_id] = [name[:-len(".conf")] for name in data["bls"]]
    assert {"i386-pc", "x86_64-efi", "grub.cfg", "grubenv"} <= set(data["grub2"])
    assert f"--id '{entry_id}'" in data["grub_cfg"]
    assert "boot_fallback" in data["grub_cfg"] and "serial --unit=0" in data["grub_cfg"]
    assert "EFI/BOOT/BOOTX64.EFI" in data["esp"]
    stub = data["esp"]["EFI/ovirt-node-demo/grub.cfg"]           # the image's os-release ID
    assert "configfile $prefix/grub.cfg" in stub and "--fs-uuid" in stub
    assert data["etc_links"] == {"grub2.cfg": "../boot/grub2/grub.cfg",
                                 "grub2-efi.cfg": "../boot/efi/EFI/ovirt-node-demo/grub.cfg"}


def test_no_bootloader_writes_entries_and_grubenv_only(vm_run):
    data = json.loads(read(vm_run[0], "tree-facts.json"))
    assert data["grub2"] == ["grubenv"] and data["grub_cfg"] is None
    assert data["esp"] == {} and data["etc_links"] == {}
    assert parse_grubenv(data["grubenv"].encode())["saved_entry"] + ".conf" in data["bls"]


def test_every_source_file_is_in_the_layer_identical(vm_run):
    _, tree = ensure_demo_image()
    got = facts(vm_run[0])["manifest"]
    assert "var/imgbased/.skip-volumes" not in got       # all seven NIST volumes are there
    assert_same_files(tree, got)


def test_plain_tree_image_is_copied_file_wise_onto_a_wiped_disk(vm_run):
    """The tree install's disk held a GPT and an ext4: --wipe lets it be used."""
    work = vm_run[0]
    assert read(work, "tree.rc").strip() == "0", read(work, "tree.err")
    assert "copying the plain root tree file by file" in read(work, "tree.err")
    data = json.loads(read(work, "tree-facts.json"))
    assert data["tagged_bases"] == [TREE_NVR]
    # --volumes minimal: imgbased must not expect the other six volumes
    assert "var/imgbased/.skip-volumes" in data["manifest"]
    _, tree = ensure_demo_image()
    # squashfs keeps only user/trusted/security xattrs: a plain-tree image
    # cannot carry POSIX ACLs (the LiveOS/rootfs.img format does)
    assert_same_files(tree, data["manifest"], ignore_xattr_prefix="system.posix_acl")


def test_status_reads_layout_from_tags(vm_run):
    work = vm_run[0]
    assert read(work, "status.rc").strip() == "0", read(work, "status.err")
    status = json.loads(read(work, "status.out"))
    [base] = status["bases"]
    [layer] = status["layers"]
    assert layer["origin"] == base["name"] and layer["default"] is True
    assert layer["running"] is False
    assert base["read_only"] and base["activation_skip"]
    assert status["pool"]["name"] == "pool00" and status["pool"]["data_percent"] > 0
    assert len(status["volumes"]) == 7
    text = read(work, "status_text.out")
    assert "boot default" in text and "Thin pool pool00" in text


def test_dirty_disk_is_refused_and_unchanged(vm_run):
    work, disks, before, _ = vm_run
    assert read(work, "dirty.rc").strip() == "1"
    [error] = error_lines(read(work, "dirty.err"))
    assert "not blank" in error and "--wipe" in error
    assert sha256(disks["dirty"]) == before["dirty"]


def test_bad_image_is_refused_and_disk_unchanged(vm_run):
    work, disks, before, _ = vm_run
    assert read(work, "badimage.rc").strip() == "1"
    [error] = error_lines(read(work, "badimage.err"))
    assert "not a squashfs" in error
    assert sha256(disks["blank"]) == before["blank"]


def test_failure_after_writing_removes_what_was_created(vm_run):
    work = vm_run[0]
    assert read(work, "midfail.rc").strip() == "1"
    stderr = read(work, "midfail.err")
    [error] = error_lines(stderr)
    # the corrupt block, named in the image deploy reads it from
    assert "does not decompress (corrupt image?)" in error and "squashfs" in error, stderr
    assert "cleanup: removed volume group failvg; wiped /dev/vdd" in stderr, stderr
    assert "==> Writing the image" in stderr          # it failed after writing began
    left = read(work, "midfail.wipefs").strip()      # no signature left on the disk
    assert not left or json.loads(left)["signatures"] == [], left
    assert read(work, "midfail.vgs.rc").strip() != "0"  # the VG is gone


def test_no_confirmation_without_yes(vm_run):
    work = vm_run[0]
    assert read(work, "noconfirm.rc").strip() == "1"
    assert "--yes" in read(work, "noconfirm.err")
