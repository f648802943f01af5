"""Kernel modules of persisted packages, on real trees with real dpkg, rpm and dkms.

The old image is the cached bookworm essential tree; the node's layer is a copy
with third-party packages installed by dpkg itself, made here with dpkg-deb:
one shipping a module file for an old kernel only (no DKMS source), one the
same with a DKMS source package beside it, one a module for the new kernel,
and one DKMS source that does not compile. The new image is the cached tree
with dkms, gcc and Debian's current kernel headers (pkgtrees.dkms_tree), so a
real module is really built by dkms for that kernel (about 2 s). The new
layer a step writes into is an overlay on that tree (the cache stays as it
is); the packages step runs as update.py runs it, chrooted, with /proc, /sys,
/dev and /run mounted.
"""

import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import fstrees  # noqa: E402  pylint: disable=wrong-import-position
import pkgtrees  # noqa: E402  pylint: disable=wrong-import-position

from org_ovirt_node.cli import lifecycle as lifecycle_cli  # noqa: E402
from org_ovirt_node.cli import status as status_cli  # noqa: E402
from org_ovirt_node.errors import NodeError  # noqa: E402
from org_ovirt_node.lifecycle import kmods, persist, state, update  # noqa: E402
from org_ovirt_node.progress import RecordingReporter  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot, mounts)")

OLD = "6.1.0-1-amd64"           # the node's kernel: not the new image's
MODULE_C = """#include <linux/module.h>
MODULE_LICENSE("GPL");
static int __init ovn_drv_init(void) { return 0; }
static void __exit ovn_drv_exit(void) { }
module_init(ovn_drv_init);
module_exit(ovn_drv_exit);
"""
DKMS_CONF = """PACKAGE_NAME="ovn-drv"
PACKAGE_VERSION="1.0"
BUILT_MODULE_NAME[0]="ovn_drv"
DEST_MODULE_LOCATION[0]="/updates/dkms"
AUTOINSTALL="yes"
"""


def dpkg(root, *args):
    subprocess.run(["chroot", root, "dpkg", *args], check=True, capture_output=True,
                   env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"})


def install(root, *debs):
    for deb in debs:
        os.link(deb, os.path.join(root, "tmp", os.path.basename(deb)))
    dpkg(root, "-i", *["/tmp/" + os.path.basename(deb) for deb in debs])


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    """base (the old image), new (with dkms and headers), NEW (its kernel), the .debs."""
    work = tmp_path_factory.mktemp("kmods")
    new = pkgtrees.dkms_tree()
    kernel = pkgtrees.headers_kernel(new)
    debs = work / "debs"
    debs.mkdir()
    deb = {
        "blob": pkgtrees.build_deb(str(debs), "ovn-blob", "1.0", files={
            f"lib/modules/{OLD}/extra/ovn_blob.ko": "a module built for the old kernel\n"}),
        "drv": pkgtrees.build_deb(str(debs), "ovn-drv", "1.0", files={
            f"lib/modules/{OLD}/updates/ovn-drv.ko.xz": "prebuilt for the old kernel\n"}),
        "dkms": pkgtrees.build_deb(str(debs), "ovn-drv-dkms", "1.0", files={
            "usr/src/ovn-drv-1.0/dkms.conf": DKMS_CONF,
            "usr/src/ovn-drv-1.0/Makefile": "obj-m := ovn_drv.o\n",
            "usr/src/ovn-drv-1.0/ovn_drv.c": MODULE_C}),
        "same": pkgtrees.build_deb(str(debs), "ovn-same", "1.0", files={
            f"lib/modules/{kernel}/extra/ovn_same.ko.zst": "built for the new kernel\n"}),
        "broken": pkgtrees.build_deb(str(debs), "ovn-broken-dkms", "2.0", files={
            "usr/src/ovn-broken-2.0/dkms.conf":
                'PACKAGE_NAME="ovn-broken"\nPACKAGE_VERSION="2.0"\n'
                'BUILT_MODULE_NAME[0]="$PACKAGE_NAME"\nDEST_MODULE_LOCATION[0]="/extra"\n',
            "usr/src/ovn-broken-2.0/Makefile": "obj-m := ovn-broken.o\n",
            "usr/src/ovn-broken-2.0/ovn-broken.c":
                MODULE_C.replace("return 0;", "return ovn_no_such_symbol;")}),
    }
    return {"base": pkgtrees.dpkg_tree(), "new": new, "kernel": kernel, "deb": deb,
            "work": work}


def layer_with(trees, tmp_path, *keys):
    """The node's layer: the old image with the named packages installed by dpkg."""
    layer = pkgtrees.copy_tree(trees["base"], str(tmp_path / "layer"))
    install(layer, *[trees["deb"][key] for key in keys])
    return layer


def plan_for(trees, layer, new=None, kernels=None):
    """What plan_update does: the packages plan, their files, then the modules plan."""
    new = new or trees["new"]
    packages = persist.plan_persist(trees["base"], layer, new)
    persist.locate_files(packages, os.path.join(layer, "var"))
    return packages, kmods.plan_kmods(packages, layer, new, kernels or [trees["kernel"]])


@pytest.fixture
def overlay(tmp_path):
    """A writable new layer over the cached new image (which is never written)."""
    made = []

    def make(lower, name="target"):
        target, upper, work = (tmp_path / name, tmp_path / f"{name}.up", tmp_path / f"{name}.wk")
        for path in (target, upper, work):
            path.mkdir()
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={lower},upperdir={upper},workdir={work}", str(target)],
                       check=True)
        made.append(str(target))
        return str(target)
    yield make
    for target in reversed(made):
        subprocess.run(["umount", "--recursive", target], check=True)


def share_var(target, layer):
    """TARGET's /var/lib as on a node: the node's own (LAYER's), on another filesystem
    (the /var volume the layers share), not the new image's."""
    var_lib = os.path.join(target, "var/lib")
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", var_lib], check=True)
    subprocess.run(["cp", "-a", os.path.join(layer, "var/lib/."), var_lib], check=True)
    return var_lib


def test_module_for_the_old_kernel_without_dkms_source_is_refused_in_preflight(trees, tmp_path):
    layer = layer_with(trees, tmp_path, "blob", "same")
    before = {name: fstrees.snapshot(trees[name]) for name in ("base", "new")}
    before["layer"] = fstrees.snapshot(layer)
    packages, plan = plan_for(trees, layer)
    assert {item.name for item in packages.changes} == {"ovn-blob", "ovn-same"}
    assert plan.refused == [
        f"package ovn-blob 1.0: kernel module /lib/modules/{OLD}/extra/ovn_blob.ko is built "
        f"for kernel {OLD} only, and no DKMS source rebuilds it for the new kernel "
        f"{trees['kernel']} (--skip-persisted ovn-blob leaves the package out)"]
    assert plan.builds == []            # ovn-same ships its module for the new kernel
    # as plan_update hands it on: a problem of the plan, which --dry-run shows and
    # apply_update refuses with, in one line, before it looks at the node
    update_plan = plan_of_update(packages, plan, trees["kernel"])
    assert update_plan.to_dict()["kernel_modules"]["refused"] == plan.refused
    assert f"  PROBLEM: {plan.refused[0]}" in lifecycle_cli.render_update_plan(update_plan)
    with pytest.raises(NodeError) as raised:
        update.apply_update(None, update_plan, update.UpdateOptions(image="x"),
                            RecordingReporter())
    assert str(raised.value) == "update refused: " + plan.refused[0]
    # preflight wrote nothing: every tree is byte-identical
    assert {name: fstrees.snapshot(trees[name]) for name in ("base", "new")} == \
        {name: before[name] for name in ("base", "new")}
    assert fstrees.snapshot(layer) == before["layer"]


def test_same_kernel_or_a_carried_kernel_needs_nothing(trees, tmp_path):
    layer = layer_with(trees, tmp_path, "blob")
    _, plan = plan_for(trees, layer, kernels=[OLD])
    assert plan.refused == [] and plan.builds == []
    # a carried package that brings kernel OLD itself brings its modules' kernel
    kernel_deb = pkgtrees.build_deb(str(tmp_path), "ovn-kernel", "1.0", files={
        f"boot/vmlinuz-{OLD}": "kernel\n"})
    install(layer, kernel_deb)
    _, plan = plan_for(trees, layer)
    assert plan.refused == [] and plan.builds == []


def test_dkms_source_plans_a_build_and_dry_run_shows_it(trees, tmp_path):
    layer = layer_with(trees, tmp_path, "drv", "dkms")
    packages, plan = plan_for(trees, layer)
    assert plan.refused == []
    assert [item.to_dict() for item in plan.builds] == [{
        "module": "ovn-drv", "version": "1.0", "kernel": trees["kernel"],
        "package": "ovn-drv",
        "reason": f"package ovn-drv ships /lib/modules/{OLD}/updates/ovn-drv.ko.xz for "
                  f"kernel {OLD} only",
        "source": "/usr/src/ovn-drv-1.0/dkms.conf (package ovn-drv-dkms)",
        "modules": ["ovn_drv"]}]
    update_plan = plan_of_update(packages, plan, trees["kernel"])
    assert update_plan.to_dict()["kernel_modules"]["builds"][0]["module"] == "ovn-drv"
    assert plan.render()[0] in lifecycle_cli.render_update_plan(update_plan).splitlines()
    assert plan.render() == [
        f"  module ovn-drv/1.0: DKMS build for kernel {trees['kernel']} (package ovn-drv "
        f"ships /lib/modules/{OLD}/updates/ovn-drv.ko.xz for kernel {OLD} only; source: "
        "/usr/src/ovn-drv-1.0/dkms.conf (package ovn-drv-dkms))"]


def plan_of_update(packages, plan, kernel):
    """The UpdatePlan plan_update makes of these two plans (the rest left plain)."""
    return update.UpdatePlan(nvr="n-2-1", layer="n-2-1+1", base_size=1, from_layer="n-1-1+1",
                             from_entry="n-1-1+1-k", options="", kernels=[kernel],
                             gc={"remove": []}, problems=list(plan.refused),
                             packages=packages, kernel_modules=plan)


def test_a_source_kept_in_var_lib_dkms_counts_a_link_into_the_old_layer_does_not(trees,
                                                                                  tmp_path):
    """/var is shared, so a source directory kept in /var/lib/dkms is there for the new
    layer too; one registered as a link to the old layer's /usr/src, which no package
    brings, is not."""
    layer = layer_with(trees, tmp_path, "drv")
    registered = os.path.join(layer, "var/lib/dkms/ovn-drv/1.0")
    os.makedirs(os.path.join(layer, "usr/src/ovn-drv-1.0"))
    fstrees.write(os.path.join(layer, "usr/src/ovn-drv-1.0/dkms.conf"), DKMS_CONF.encode())
    os.makedirs(registered)
    os.symlink("/usr/src/ovn-drv-1.0", os.path.join(registered, "source"))
    _, plan = plan_for(trees, layer)
    assert plan.builds == [] and len(plan.refused) == 1
    assert plan.refused[0].startswith(f"package ovn-drv 1.0: kernel module /lib/modules/{OLD}/")
    os.unlink(os.path.join(registered, "source"))
    shutil.copytree(os.path.join(layer, "usr/src/ovn-drv-1.0"),
                    os.path.join(registered, "source"))
    _, plan = plan_for(trees, layer)
    assert plan.refused == []
    assert [(item.module, item.source) for item in plan.builds] == [
        ("ovn-drv", "/var/lib/dkms/ovn-drv/1.0/source/dkms.conf (/var/lib/dkms)")]


def test_a_build_without_dkms_or_headers_in_the_new_layer_is_refused(trees, tmp_path):
    layer = layer_with(trees, tmp_path, "dkms")
    _, plan = plan_for(trees, layer, new=trees["base"])       # no dkms, no headers there
    kernel = trees["kernel"]
    reason = "package ovn-drv-dkms ships the DKMS source /usr/src/ovn-drv-1.0/dkms.conf"
    assert plan.refused == [
        f"module ovn-drv/1.0 needs a DKMS build for the new kernel {kernel} ({reason}), but "
        "the new layer would have no dkms: neither the new image nor a carried package has it",
        f"module ovn-drv/1.0 needs a DKMS build for the new kernel {kernel} ({reason}), but "
        f"the new layer would have no headers for it (/lib/modules/{kernel}/build): the new "
        f"image or a carried package must bring linux-headers-{kernel} or "
        f"kernel-devel-{kernel}"]


def step(trees, layer, target, plan_packages, plan_kmods):
    """update.py's packages step, as _write_new_layer calls it."""
    plan = SimpleNamespace(packages=plan_packages, kernel_modules=plan_kmods, from_layer="a+1",
                           layer="b+1")
    reporter = RecordingReporter()
    update._persist_packages(plan, layer, target, trees["new"], reporter,  # pylint: disable=protected-access
                             layer_var=os.path.join(layer, "var"))
    return reporter


def test_packages_step_builds_the_module_for_the_new_kernel_with_dkms(trees, tmp_path,
                                                                      overlay):
    layer = layer_with(trees, tmp_path, "drv", "dkms", "same")
    packages, plan = plan_for(trees, layer)
    target = overlay(trees["new"])
    share_var(target, layer)
    reporter = step(trees, layer, target, packages, plan)
    kernel = trees["kernel"]
    built = os.path.join(target, f"lib/modules/{kernel}/updates/dkms/ovn_drv.ko")
    assert os.path.realpath(kmods.installed_module(target, kernel, "ovn_drv")) == \
        os.path.realpath(built)
    info = subprocess.run(["modinfo", "-F", "vermagic", built], check=True,
                          capture_output=True, text=True).stdout
    assert info.split()[0] == kernel               # a real module, for the new kernel
    dep = fstrees.read(os.path.join(target, f"lib/modules/{kernel}/modules.dep")).decode()
    assert "updates/dkms/ovn_drv.ko:" in dep      # depmod ran
    assert ("info", f"modules built: ovn-drv/1.0/{kernel}") in reporter.events
    assert os.path.isdir(os.path.join(target, "var/lib/dkms/ovn-drv/1.0", kernel))
    assert not os.path.lexists(os.path.join(target, "var/lib/dkms.ovirt-node-old"))
    for rel in ("proc", "sys", "dev", "run"):
        assert not os.path.ismount(os.path.join(target, rel))
    # the node state records the build with the package, and status shows it
    plan_ns = SimpleNamespace(packages=packages, kernel_modules=plan)
    record = {item["name"]: item for item in update._persisted(plan_ns)}  # pylint: disable=protected-access
    assert record["ovn-drv"]["dkms_built"] == f"ovn-drv/1.0 for {kernel}"
    assert "dkms_built" not in record["ovn-drv-dkms"]
    kept = state._persisted({"b+1": list(record.values())})  # pylint: disable=protected-access
    layer_status = {"name": "b+1", "origin": "b", "os_release": {}, "entries": [],
                    "kernels": [], "persisted": kept["b+1"],
                    **{key: False for _, key in status_cli._LAYER_MARKS}}  # pylint: disable=protected-access
    text = status_cli.render_status({"vg": {"name": "onn", "size": 1, "free": 1},
                                     "pool": None, "bases": [], "layers": [layer_status],
                                     "volumes": []})
    assert f"+ovn-drv 1.0 (dkms built ovn-drv/1.0 for {kernel})" in text


def test_a_failed_dkms_build_fails_the_step_and_leaves_var_as_it_was(trees, tmp_path,
                                                                      overlay):
    layer = layer_with(trees, tmp_path, "drv", "dkms", "broken")
    packages, plan = plan_for(trees, layer)
    assert [item.module for item in plan.builds] == ["ovn-broken", "ovn-drv"]
    target = overlay(trees["new"])
    var_lib = share_var(target, layer)
    # the shared /var/lib/dkms holds what the old layer's dkms left; an earlier
    # update made the store
    fstrees.write(os.path.join(var_lib, "dkms/ovn-old/1.0/note"), b"old layer\n")
    store = os.path.join(target, "var", persist.STORE, "dpkg")
    os.makedirs(store)
    before = fstrees.snapshot(var_lib)
    with pytest.raises(NodeError) as raised:
        step(trees, layer, target, packages, plan)
    message = str(raised.value)
    assert message.startswith(
        f"packages: dkms could not build ovn-broken/2.0 for the new kernel {trees['kernel']} "
        "(package ovn-broken-dkms ships the DKMS source /usr/src/ovn-broken-2.0/dkms.conf; "
        "exit ")
    assert "Bad return status for module build" in message        # dkms's own words
    assert "ovn_no_such_symbol" in message                        # its make.log
    # the shared /var is byte-identical: the store, dkms's tree and dpkg's database are
    # as they were (the new layer itself goes with the update, by its journal); only
    # the store folder's mtime tells that a rebuilt .deb came and went
    after = fstrees.snapshot(var_lib)
    folder = "ovirt-node/persisted/dpkg"
    assert after[folder][:4] == before[folder][:4]
    assert {path: entry for path, entry in after.items() if path != folder} == \
        {path: entry for path, entry in before.items() if path != folder}
    assert os.path.isdir(os.path.join(var_lib, "dkms/ovn-old/1.0")) and \
        not os.path.exists(os.path.join(var_lib, "dkms/ovn-broken"))
    for rel in ("proc", "sys", "dev", "run"):
        assert not os.path.ismount(os.path.join(target, rel))


def test_a_killed_runs_dkms_tree_is_put_back_by_the_next(tmp_path):
    target = str(tmp_path)
    fstrees.write(os.path.join(target, "var/lib/dkms/a/1/note"), b"before\n")
    before = fstrees.snapshot(os.path.join(target, "var/lib"))
    plan = kmods.KmodPlan(builds=[kmods.Build("a", "1", "k", "p", "r", "s")])
    with pytest.raises(KeyboardInterrupt):
        with kmods.dkms_tree_kept(target, plan):
            fstrees.write(os.path.join(target, "var/lib/dkms/a/1/k/built"), b"half\n")
            raise KeyboardInterrupt
    assert fstrees.snapshot(os.path.join(target, "var/lib")) == before
    # a run killed outright leaves the kept copy: the next run puts it back first
    shutil.copytree(os.path.join(target, "var/lib/dkms"),
                    os.path.join(target, "var/lib/dkms.ovirt-node-old"), symlinks=True)
    fstrees.write(os.path.join(target, "var/lib/dkms/a/1/k/built"), b"half\n")
    with kmods.dkms_tree_kept(target, kmods.KmodPlan()):
        pass
    assert fstrees.snapshot(os.path.join(target, "var/lib")).keys() == before.keys()


@pytest.mark.skipif(shutil.which("rpmbuild") is None, reason="needs rpmbuild")
def test_rpm_kmod_for_the_old_kernel_is_refused(tmp_path):
    """The rpm side reads the file list with rpm -ql from the layer's database."""
    rpms = tmp_path / "rpms"
    rpms.mkdir()
    base_rpm = pkgtrees.build_rpm(str(rpms), "test-base", "1", provides="/bin/sh")
    kmod = pkgtrees.build_rpm(str(rpms), "kmod-ovn", "1.0", files={
        f"/lib/modules/{OLD}/extra/ovn/ovn.ko": "module"})
    base = pkgtrees.rpm_tree(str(tmp_path / "base"), [base_rpm])
    new = pkgtrees.copy_tree(base, str(tmp_path / "new"))
    layer = pkgtrees.copy_tree(base, str(tmp_path / "layer"))
    subprocess.run(["rpm", "--root", layer, "--dbpath", "/var/lib/rpm", "-U", kmod],
                   check=True, capture_output=True)
    before = fstrees.snapshot(str(tmp_path))
    packages = persist.plan_persist(base, layer, new)
    plan = kmods.plan_kmods(packages, layer, new, ["5.14.0-503.el9.x86_64"])
    assert plan.refused == [
        f"package kmod-ovn 1.0-1: kernel module /lib/modules/{OLD}/extra/ovn/ovn.ko is built "
        f"for kernel {OLD} only, and no DKMS source rebuilds it for the new kernel "
        "5.14.0-503.el9.x86_64 (--skip-persisted kmod-ovn leaves the package out)"]
    # byte-identical but for sqlite's shared-memory index, which every reader of an
    # rpm database rewrites (rpm -q itself does)
    assert without_shm(fstrees.snapshot(str(tmp_path))) == without_shm(before)


def without_shm(snapshot):
    return {path: entry for path, entry in snapshot.items()
            if not path.endswith("rpmdb.sqlite-shm")}
