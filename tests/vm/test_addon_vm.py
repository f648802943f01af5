"""The add-on's install task on real LVM, started the way Anaconda starts it.

In the VM, a layout like Anaconda's `autopart --type=thinp` plus a `logvol
/var/log --thin` is created and filled the way `liveimg` does (rsync of the
image's root filesystem); the add-on service, on a private bus, then reads a
kickstart and runs its install task. A second target whose root is a plain
(non-thin) LV must fail the task with the reason and stay untouched.
"""

import json

import pytest

from tests.support.demo import ensure_demo_image
from tests.support.vm import run_in_vm, sparse_disk
from tests.support.manifest import assert_same_files

pytestmark = pytest.mark.vm
GiB = 1 << 30

# What Anaconda has done by "Configuring addons": partitions, a thin pool with
# a thin root and /var/log, swap, everything mounted at the target root, and
# the image's root filesystem copied in with liveimg's rsync flags.
GUEST_SCRIPT = r"""
cd "$OUT"
anaconda_layout() {  # DISK VG ROOT_KIND SYSROOT
    disk=$1 vg=$2 kind=$3 sysroot=$4
    sgdisk --new=1:0:+1M --typecode=1:ef02 --new=2:0:+1G --new=3:0:0 "$disk" > /dev/null
    partprobe "$disk"; udevadm settle
    mkfs.ext4 -q "${disk}2"
    lvm pvcreate -q "${disk}3" && lvm vgcreate -q "$vg" "${disk}3"
    if [ "$kind" = thin ]; then
        lvm lvcreate -q --type thin-pool -L 20G --poolmetadatasize 1G -n pool00 "$vg"
        lvm lvcreate -q -V 8G --thinpool "$vg/pool00" -n root
        lvm lvcreate -q -V 8G --thinpool "$vg/pool00" -n var_log
        mkfs.ext4 -q "/dev/$vg/var_log"
    else
        lvm lvcreate -q -L 8G -n root "$vg"
    fi
    lvm lvcreate -q -L 1G -n swap "$vg" && mkswap -q "/dev/$vg/swap"
    mkfs.ext4 -q "/dev/$vg/root"
    mkdir -p "$sysroot" && mount "/dev/$vg/root" "$sysroot"
    mkdir -p "$sysroot/boot" && mount "${disk}2" "$sysroot/boot"
    if [ "$kind" = thin ]; then
        mkdir -p "$sysroot/var/log" && mount "/dev/$vg/var_log" "$sysroot/var/log"
    fi
    mkdir -p /tmp/liveimg /tmp/rootfs
    mount -o ro "$IMAGE" /tmp/liveimg && mount -o ro /tmp/liveimg/LiveOS/rootfs.img /tmp/rootfs
    rsync -pogAXtlHrDx --exclude=/lost+found /tmp/rootfs/ "$sysroot/"
    umount /tmp/rootfs /tmp/liveimg
}
cat > ks.cfg <<KS
%addon org_ovirt_node --image=file://$IMAGE --vg=onn --pool=pool00 --volumes=nist
%end
KS
cat > plain-ks.cfg <<KS
%addon org_ovirt_node --image=file://$IMAGE --vg=plainvg --volumes=nist
%end
KS
anaconda_layout /dev/vda onn thin /tmp/sysroot > layout.log 2>&1
anaconda_layout /dev/vdb plainvg plain /tmp/sysroot2 > plain-layout.log 2>&1
lvm lvs --noheadings -o lv_name,lv_tags,lv_attr plainvg > plain-before.txt
python3 "$REPO/tests/vm/guest_addon.py" ks.cfg /tmp/sysroot "$OUT" addon.json > addon.log 2>&1
python3 "$REPO/tests/vm/guest_addon.py" plain-ks.cfg /tmp/sysroot2 "$OUT" plain.json \
    > plain.log 2>&1
lvm lvs --noheadings -o lv_name,lv_tags,lv_attr plainvg > plain-after.txt
umount -R /tmp/sysroot /tmp/sysroot2
python3 "$REPO/tests/vm/guest_facts.py" onn "$OUT" facts.json > facts.log 2>&1
lvm lvs --reportformat json -o lv_name,lv_tags,origin onn > lvs.json
lvm vgchange -an onn plainvg > /dev/null 2>&1
echo GUEST-DONE > done
"""


@pytest.fixture(scope="module")
def addon_run(tmp_path_factory):
    """Run both targets through the add-on service in one VM; return the outdir."""
    image, _ = ensure_demo_image()
    work = tmp_path_factory.mktemp("addon")
    disks = [sparse_disk(str(work / "thin.img"), 32 * GiB),
             sparse_disk(str(work / "plain.img"), 16 * GiB)]
    result = run_in_vm(GUEST_SCRIPT, disks, str(work), env={"IMAGE": image})
    assert (work / "done").exists(), result.stdout[-3000:]
    return work


def load(work, name):
    return json.loads((work / name).read_text())


def test_install_task_succeeds_with_progress(addon_run):
    record = load(addon_run, "addon.json")
    assert record["report"]["error-messages"] == [], record["report"]
    [task] = record["tasks"]
    assert task["events"][0] == "started" and task["events"][-2:] == ["succeeded", "stopped"], \
        (task, (addon_run / "addon.json.service.log").read_text()[-3000:])
    steps = [event[1] for event in task["events"] if isinstance(event, list)]
    assert any("base" in step for step in steps) and any("fstab" in step for step in steps)
    assert task["finish_error"] is None


def test_root_became_base_and_layer(addon_run):
    data = load(addon_run, "facts.json")
    lvs = {lv["lv_name"]: lv for lv in data["lvs"]}
    [base] = data["tagged_bases"]
    layer = base + "+1"
    assert "imgbased:init" in lvs["root"]["lv_tags"]
    assert lvs[base]["origin"] == "root"
    assert lvs[base]["lv_permissions"] == "read-only"
    assert lvs[base]["lv_skip_activation"] == "skip activation"
    assert lvs[layer]["origin"] == base and "imgbased:layer" in lvs[layer]["lv_tags"]
    assert data["base_uuid"] != data["layer_uuid"]
    volumes = sorted(name for name, lv in lvs.items() if "imgbased:volume" in lv["lv_tags"])
    assert volumes == ["home", "tmp", "var", "var_crash", "var_log", "var_log_audit",
                       "var_tmp"]   # var_log was Anaconda's, the rest the add-on's


def test_layer_fstab_and_boot_entry(addon_run):
    data = load(addon_run, "facts.json")
    [base] = data["tagged_bases"]
    layer = base + "+1"
    by_mount = {fields[1]: fields for fields in
                (line.split() for line in data["fstab"].splitlines())
                if len(fields) > 3 and not fields[0].startswith("#")}
    assert by_mount["/"][0] == f"/dev/onn/{layer}"
    assert by_mount["/var/log"][0] == "/dev/onn/var_log"      # kept from Anaconda
    assert by_mount["/var"][0] == "/dev/onn/var"              # created by the add-on
    assert by_mount["/boot"][0].startswith("UUID=")
    [(_, entry)] = data["bls"].items()
    assert f"root=/dev/onn/{layer}" in entry and f"img.bootid={layer}" in entry


def test_every_file_of_the_image_is_in_the_node(addon_run):
    _, tree = ensure_demo_image()
    # liveimg's rsync (no -S) does not keep holes; everything else must match
    assert_same_files(tree, load(addon_run, "facts.json")["manifest"], ignore_keys=("sparse",))


def test_plain_root_fails_the_task_and_changes_nothing(addon_run):
    record = load(addon_run, "plain.json")
    [task] = record["tasks"]
    assert "failed" in task["events"] and "succeeded" not in task["events"]
    reasons = [event[1] for event in task["events"] if isinstance(event, list)]
    assert any("is not a thin LV" in reason for reason in reasons), task
    assert "not a thin LV" in (task["finish_error"] or "")
    assert (addon_run / "plain-before.txt").read_text() == \
        (addon_run / "plain-after.txt").read_text()
