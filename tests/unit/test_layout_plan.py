"""Layout planning on in-memory blivet trees (disk image files, nothing written)."""

from types import SimpleNamespace

import pytest
from blivet import Blivet
from blivet.devices import DiskFile
from blivet.devices.lvm import DEFAULT_THPOOL_RESERVE
from blivet.size import Size

from org_ovirt_node import constants
from org_ovirt_node.errors import NodeError
from org_ovirt_node.install.layout import schedule_layout, thin_pool_reserve
from org_ovirt_node.install.options import InstallOptions, suggested_swap_size
from org_ovirt_node.sizes import GiB, MiB, TiB

IMAGE = SimpleNamespace(nvr="ovirt-node-ng-4.5.5-0.20261124.0", rootfs_size=3 * GiB,
                        rootfs_used=1200 * MiB)


def plan_for(tmp_path, sizes, image=IMAGE, **option_args):
    """Plan onto disk files of SIZES (bytes); return (plan, devices, blivet)."""
    storage = Blivet()
    disks = []
    for index, size in enumerate(sizes):
        path = tmp_path / f"disk{index}"
        with open(path, "wb") as handle:
            handle.truncate(size)
        disk = DiskFile(str(path), size=Size(size))
        storage.devicetree._add_device(disk)
        disks.append(disk)
    option_args.setdefault("swap_size", 2 * GiB)
    options = InstallOptions(disks=[d.path for d in disks], **option_args)
    plan, devices = schedule_layout(storage, disks, options, image)
    return plan, devices, storage


def roles(plan, role):
    return [device for device in plan.devices if device.role == role]


def test_nist_layout_on_32g(tmp_path):
    plan, devices, storage = plan_for(tmp_path, [32 * GiB])
    assert plan.problems == []
    assert [d.role for d in plan.devices[:3]] == ["biosboot", "efi", "boot"]
    assert plan.device("boot").size >= constants.MIN_BOOT_SIZE
    assert plan.device("efi").fstype == "vfat"
    assert plan.pool_metadata_size == 1 * GiB
    volumes = {d.mountpoint: d for d in roles(plan, "volume")}
    assert {mp: d.size for mp, d in volumes.items()} == constants.NIST_VOLUMES
    assert volumes["/var/log/audit"].name == "var_log_audit"
    assert all(constants.TAG_VOLUME in d.tags for d in volumes.values())
    assert plan.device("base").name == IMAGE.nvr
    assert plan.device("layer").name == IMAGE.nvr + "+1"
    assert plan.device("base").size == constants.MIN_ROOT_SIZE
    assert plan.device("swap").size == 2 * GiB
    # thin volumes overcommit the pool and that is allowed
    assert plan.thin_virtual_size > plan.pool_data_size
    assert plan.overcommit_ratio > 1
    # everything fits in the VG, metadata and its spare included
    assert devices["vg"].free_space >= 0
    assert plan.pool_data_size + 2 * GiB + 2 * plan.pool_metadata_size <= plan.vg_size


def test_minimal_profile_keeps_only_var(tmp_path):
    plan, _, _ = plan_for(tmp_path, [32 * GiB], profile="minimal")
    assert [d.mountpoint for d in roles(plan, "volume")] == ["/var"]


def test_volume_overrides_and_additions(tmp_path):
    plan, _, _ = plan_for(tmp_path, [64 * GiB], profile="minimal",
                          volume_sizes={"/var/log": 16 * GiB, "/var": 20 * GiB})
    sizes = {d.mountpoint: d.size for d in roles(plan, "volume")}
    assert sizes == {"/var": 20 * GiB, "/var/log": 16 * GiB}


def test_large_disk_and_two_disks(tmp_path):
    plan, _, _ = plan_for(tmp_path, [2 * TiB, 100 * GiB])
    assert plan.problems == []
    assert len(roles(plan, "pv")) == 2
    assert plan.vg_size > 2 * TiB
    assert plan.pool_data_size > 2 * TiB - 10 * GiB


def test_small_vg_gets_small_metadata(tmp_path):
    plan, _, _ = plan_for(tmp_path, [12 * GiB])
    assert plan.problems == []
    assert plan.pool_metadata_size < 1 * GiB


def test_too_small_disk_is_refused_with_numbers(tmp_path):
    plan, devices, _ = plan_for(tmp_path, [5 * GiB], swap_size=2 * GiB)
    assert devices == {}
    assert len(plan.problems) == 1
    assert "too small" in plan.problems[0] and "GiB" in plan.problems[0]
    with pytest.raises(NodeError, match="too small"):
        plan.check()


def test_disk_too_small_for_partitions(tmp_path):
    with pytest.raises(NodeError, match="too small"):
        plan_for(tmp_path, [1 * GiB])


def test_big_image_grows_root(tmp_path):
    image = SimpleNamespace(nvr=IMAGE.nvr, rootfs_size=int(8.5 * GiB), rootfs_used=5 * GiB)
    plan, _, _ = plan_for(tmp_path, [64 * GiB], image=image)
    assert plan.device("base").size == 9 * GiB


def test_plus_in_nvr_is_kept_in_plan(tmp_path):
    image = SimpleNamespace(nvr="node-4.5+git1-1", rootfs_size=GiB, rootfs_used=GiB // 2)
    plan, devices, _ = plan_for(tmp_path, [32 * GiB], image=image)
    assert plan.device("base").name == "node-4.5+git1-1"
    assert devices["base"].lvname == "node-4.5git1-1"   # blivet's name until lvrename


def test_plan_renders(tmp_path):
    plan, _, _ = plan_for(tmp_path, [32 * GiB])
    table = plan.render_table()
    assert "var_log_audit" in table and "/boot/efi" in table
    data = plan.to_dict()
    assert data["layer"].endswith("+1") and data["overcommit_ratio"] > 1


@pytest.mark.parametrize("memory,swap", [(1 * GiB, 2 * GiB), (4 * GiB, 4 * GiB),
                                         (16 * GiB, 8 * GiB), (128 * GiB, 4 * GiB)])
def test_swap_suggestion(memory, swap):
    assert suggested_swap_size(memory) == swap


@pytest.mark.parametrize("args,fragment", [
    ({"disks": []}, "no disk"), ({"disks": ["/dev/x", "/dev/x"]}, "twice"),
    ({"disks": ["/dev/x"], "vg": "bad name"}, "volume group"),
    ({"disks": ["/dev/x"], "pool": "-x"}, "thin pool"),
    ({"disks": ["/dev/x"], "profile": "huge"}, "profile"),
    ({"disks": ["/dev/x"], "volume_sizes": {"var": GiB}}, "absolute"),
    ({"disks": ["/dev/x"], "root_size": GiB}, "at least"),
])
def test_options_validation(args, fragment):
    with pytest.raises(NodeError, match=fragment):
        InstallOptions(**args).validate()


def test_root_size_below_image_is_refused(tmp_path):
    image = SimpleNamespace(nvr=IMAGE.nvr, rootfs_size=7 * GiB, rootfs_used=GiB)
    with pytest.raises(NodeError, match="smaller than the image"):
        plan_for(tmp_path, [64 * GiB], image=image, root_size=6 * GiB)


@pytest.mark.parametrize("keep", [0, constants.MAX_KEEP + 1])
def test_images_to_keep_are_bounded(keep):
    with pytest.raises(NodeError, match="images to keep"):
        InstallOptions(disks=["/dev/vda"], keep=keep).validate()


def blivet_reserve(vg):
    """What blivet itself keeps back for the thin pool: its reserved space less pmspare."""
    return int(vg.reserved_space) - int(vg.pmspare_size)


@pytest.mark.parametrize("disk", [12 * GiB, 32 * GiB, 100 * GiB, 600 * GiB, 2 * TiB])
def test_pool_leaves_blivets_thin_pool_reserve_free(tmp_path, disk):
    """20% of the VG, at least 1 GiB, at most 100 GiB, as Anaconda's thinp autopart."""
    plan, devices, _ = plan_for(tmp_path, [disk])
    vg = devices["vg"]
    assert plan.problems == []
    assert vg.thpool_reserve == DEFAULT_THPOOL_RESERVE
    assert plan.pool_reserve == blivet_reserve(vg)
    expected = min(max(plan.vg_size // 5, 1 * GiB), 100 * GiB)
    assert expected <= plan.pool_reserve < expected + 4 * MiB
    # blivet counts the reserve as used, so what is left is only the slack
    assert 0 <= vg.free_space <= 16 * MiB
    # the pool can take one autoextend step (20% of its data) from the reserve,
    # except where the 100 GiB cap is smaller than that step
    if plan.pool_data_size // 5 <= 100 * GiB:
        assert plan.pool_data_size // 5 <= plan.pool_reserve + vg.free_space


@pytest.mark.parametrize("vg_size,extent,reserve", [
    (4 * GiB, 4 * MiB, 1 * GiB),                 # 20% below 1 GiB: the minimum
    (5 * GiB, 4 * MiB, 1 * GiB + 4 * MiB),       # 20% is 1 GiB and Decimal(0.01)'s excess
    (10 * GiB, 4 * MiB, 2 * GiB + 4 * MiB),      # 20% with Decimal(0.01)'s excess, rounded up
    (500 * GiB, 4 * MiB, 100 * GiB),             # exactly the cap
    (2 * TiB, 4 * MiB, 100 * GiB),               # beyond: the maximum
    (30 * GiB, 32 * MiB, 6 * GiB + 32 * MiB),
])
def test_thin_pool_reserve_arithmetic(vg_size, extent, reserve):
    assert thin_pool_reserve(vg_size, extent) == reserve


def test_too_small_for_the_reserve_is_refused_with_its_numbers(tmp_path):
    # This disk holds swap, metadata and the image, but not the 1 GiB reserve too.
    plan, devices, _ = plan_for(tmp_path, [6 * GiB], swap_size=1 * GiB)
    assert devices == {}
    [problem] = plan.problems
    assert problem == (
        "the disks are too small: the volume group has 4.16 GiB, but swap (1 GiB), pool "
        "metadata and its spare (256 MiB) and the room kept free for the pool to grow "
        "(1 GiB, 20% of the VG, 1-100 GiB) take 2.27 GiB and the image with new "
        "filesystems needs 2.39 GiB of pool data (at least 6.49 GiB of disk in all)")


def test_plan_shows_the_reserve(tmp_path):
    plan, _, _ = plan_for(tmp_path, [32 * GiB])
    assert plan.to_dict()["pool_reserve"] == plan.pool_reserve > 6 * GiB
    assert "Kept free in VG onn for the pool to grow: 6." in plan.render_table()
