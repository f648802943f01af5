"""Packages persist across updates, dpkg side, on real dpkg trees (no mocks).

The trees are copies of a cached bookworm `mmdebstrap --variant=essential`
root (tests/support/pkgtrees.py): a "base" image with two local packages,
the node's "layer" that added, upgraded and purged packages with dpkg
itself, and a "new" image that already ships one of them at a newer
version. The packages step (persist.reinstall) runs dpkg chrooted in a
copy of the new image, with /proc, /sys, /dev and /run mounted.
"""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import pkgtrees  # noqa: E402  pylint: disable=wrong-import-position

from org_ovirt_node.errors import NodeError  # noqa: E402
from org_ovirt_node.lifecycle import persist  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot, mounts)")


def dpkg(root, *args):
    subprocess.run(["chroot", root, "dpkg", *args], check=True, capture_output=True,
                   env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"})


def status(root):
    return {name: pkg.version for name, (pkg, _) in
            persist.read_dpkg(os.path.join(root, "var")).items() if pkg.state == "installed"}


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    """base, layer, new: three real trees and the .debs made for them."""
    work = tmp_path_factory.mktemp("dpkg")
    debs = work / "debs"
    debs.mkdir()
    deb = {key: pkgtrees.build_deb(str(debs), *key) for key in [
        ("ovn-gone", "1.0"), ("ovn-up", "1.0"), ("ovn-up", "2.0"), ("ovn-added", "1:1.0-1"),
        ("ovn-newer", "1.0"), ("ovn-newer", "1.5"), ("ovirt-node-ng-image-update", "4.5.6")]}
    source = pkgtrees.dpkg_tree()
    base = pkgtrees.copy_tree(source, str(work / "base"))
    for key in (("ovn-gone", "1.0"), ("ovn-up", "1.0")):
        os.link(deb[key], os.path.join(base, "tmp", os.path.basename(deb[key])))
        dpkg(base, "-i", "/tmp/" + os.path.basename(deb[key]))
    layer = pkgtrees.copy_tree(base, str(work / "layer"))
    new = pkgtrees.copy_tree(base, str(work / "new"))
    for key in (("ovn-up", "2.0"), ("ovn-added", "1:1.0-1"), ("ovn-newer", "1.0"),
                ("ovirt-node-ng-image-update", "4.5.6")):
        os.link(deb[key], os.path.join(layer, "tmp", os.path.basename(deb[key])))
        dpkg(layer, "-i", "/tmp/" + os.path.basename(deb[key]))
    dpkg(layer, "--purge", "ovn-gone")
    # apt kept one of the files it installed; the others must be rebuilt
    os.link(deb[("ovn-added", "1:1.0-1")],
            os.path.join(layer, "var/cache/apt/archives/ovn-added_1%3a1.0-1_all.deb"))
    os.link(deb[("ovn-newer", "1.5")], os.path.join(new, "tmp", "newer.deb"))
    dpkg(new, "-i", "/tmp/newer.deb")
    return {"base": base, "layer": layer, "new": new, "work": work, "debs": str(debs)}


def plan_of(trees, **kwargs):
    return persist.plan_persist(trees["base"], trees["layer"], trees["new"], **kwargs)


def by_name(items):
    return {item.name: item for item in items}


def test_plan_reads_the_databases(trees):
    plan = plan_of(trees)
    assert plan.manager == "dpkg"
    changes, dropped = by_name(plan.changes), by_name(plan.dropped)
    assert set(changes) == {"ovn-added", "ovn-up", "ovn-gone"}
    assert changes["ovn-added"].action == "install"
    assert changes["ovn-added"].version == "1:1.0-1"
    assert changes["ovn-added"].reason == "added on the node"
    assert changes["ovn-up"].version == "2.0" and "image had 1.0" in changes["ovn-up"].reason
    assert changes["ovn-gone"].action == "remove" and changes["ovn-gone"].purge
    assert dropped["ovn-newer"].reason == "the new image has 1.5 (newer)"
    assert dropped["ovirt-node-ng-image-update"].reason == "the image's own update package"


def test_skip_and_no_persist_are_said(trees):
    plan = plan_of(trees, skip=("ovn-up",))
    assert "ovn-up" not in by_name(plan.changes)
    assert by_name(plan.dropped)["ovn-up"].reason == "--skip-persisted"
    plan = plan_of(trees, enabled=False)
    assert plan.changes == []
    assert {item.reason for item in plan.dropped} == {"--no-persist",
                                                      "the image's own update package"}


def test_same_version_in_new_image_is_not_carried(trees, tmp_path):
    new = pkgtrees.copy_tree(trees["new"], str(tmp_path / "new"))
    os.link(os.path.join(trees["debs"], "ovn-up_2.0_all.deb"), os.path.join(new, "tmp/up.deb"))
    dpkg(new, "-i", "/tmp/up.deb")
    plan = persist.plan_persist(trees["base"], trees["layer"], new)
    assert by_name(plan.dropped)["ovn-up"].reason == "the new image has 2.0 (the same)"


def test_files_from_apt_cache_or_rebuilt(trees, tmp_path):
    plan = plan_of(trees)
    persist.locate_files(plan, os.path.join(trees["layer"], "var"))
    changes = by_name(plan.changes)
    assert changes["ovn-added"].source == "apt cache"
    assert changes["ovn-up"].source == "rebuilt"
    store_var = tmp_path / "var"
    store = persist.collect_files(plan, trees["layer"], os.path.join(trees["layer"], "var"),
                                  str(store_var))
    assert sorted(os.listdir(store)) == ["ovn-added_1%3a1.0-1_all.deb", "ovn-up_2.0_all.deb"]
    rebuilt = os.path.join(store, "ovn-up_2.0_all.deb")
    fields = subprocess.run(["dpkg-deb", "-f", rebuilt, "Package", "Version"], check=True,
                            capture_output=True, text=True).stdout
    assert fields == "Package: ovn-up\nVersion: 2.0\n"
    listing = subprocess.run(["dpkg-deb", "-c", rebuilt], check=True, capture_output=True,
                             text=True).stdout
    assert "./usr/share/ovn-up/VERSION" in listing
    assert changes["ovn-up"].file == "/var/lib/ovirt-node/persisted/dpkg/ovn-up_2.0_all.deb"


def test_reinstall_in_the_new_layer(trees, tmp_path):
    target = pkgtrees.copy_tree(trees["new"], str(tmp_path / "target"))
    plan = plan_of(trees)
    persist.locate_files(plan, os.path.join(trees["layer"], "var"))
    persist.collect_files(plan, trees["layer"], os.path.join(trees["layer"], "var"),
                          os.path.join(target, "var"))
    done = persist.reinstall(plan, target)
    assert set(done) == {"ovn-added", "ovn-up", "ovn-gone"}
    installed = status(target)
    assert installed["ovn-added"] == "1:1.0-1"
    assert installed["ovn-up"] == "2.0"
    assert installed["ovn-newer"] == "1.5"
    assert "ovn-gone" not in installed and "ovirt-node-ng-image-update" not in installed
    with open(os.path.join(target, "usr/share/ovn-up/VERSION"), encoding="utf-8") as handle:
        assert handle.read() == "2.0\n"
    assert not os.path.exists(os.path.join(target, "usr/share/ovn-gone"))
    for rel in ("proc", "sys", "dev", "run"):
        assert not os.path.ismount(os.path.join(target, rel))


def test_a_failing_package_names_itself_and_dpkgs_error(trees, tmp_path):
    layer = pkgtrees.copy_tree(trees["base"], str(tmp_path / "layer"))
    target = pkgtrees.copy_tree(trees["new"], str(tmp_path / "target"))
    good = pkgtrees.build_deb(str(tmp_path), "ovn-good", "1.0")
    bad = pkgtrees.build_deb(str(tmp_path), "ovn-bad", "1.0",
                             postinst='[ -e /etc/ovn-bad-ok ] || { echo "ovn-bad: no licence" >&2; exit 1; }')
    with open(os.path.join(layer, "etc/ovn-bad-ok"), "w", encoding="utf-8"):
        pass
    for path in (good, bad):
        os.link(path, os.path.join(layer, "var/cache/apt/archives", os.path.basename(path)))
        dpkg(layer, "-i", "/var/cache/apt/archives/" + os.path.basename(path))
    plan = persist.plan_persist(trees["base"], layer, trees["new"])
    assert {item.name for item in plan.changes} == {"ovn-good", "ovn-bad"}
    persist.locate_files(plan, os.path.join(layer, "var"))
    persist.collect_files(plan, layer, os.path.join(layer, "var"), os.path.join(target, "var"))
    with pytest.raises(NodeError) as raised:
        persist.reinstall(plan, target)
    message = str(raised.value)
    assert "could not reinstall ovn-bad " in message
    assert "ovn-good" not in message.split(" in the new layer")[0]
    assert "ovn-bad: no licence" in message
    assert "post-installation script subprocess returned error exit status 1" in message
    for rel in ("proc", "sys", "dev", "run"):
        assert not os.path.ismount(os.path.join(target, rel))


def test_shared_var_database_is_the_new_images_and_restored_on_failure(trees, tmp_path):
    """On a node /var is a volume shared by the layers, so the target's
    /var/lib/dpkg is the old layer's: the step puts the new image's in its place
    (and on failure puts the old one back)."""
    target = pkgtrees.copy_tree(trees["new"], str(tmp_path / "target"))
    var_lib = os.path.join(target, "var/lib")
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", var_lib], check=True)
    try:
        subprocess.run(["cp", "-a", os.path.join(trees["layer"], "var/lib/."), var_lib],
                       check=True)
        plan = plan_of(trees)
        persist.locate_files(plan, os.path.join(trees["layer"], "var"))
        persist.collect_files(plan, trees["layer"], os.path.join(trees["layer"], "var"),
                              os.path.join(target, "var"))
        persist.reinstall(plan, target, new_var=os.path.join(trees["new"], "var"))
        installed = status(target)
        assert installed["ovn-newer"] == "1.5"          # the new image's database
        assert installed["ovn-up"] == "2.0" and "ovn-gone" not in installed
        kept = os.path.join(var_lib, "ovirt-node/persisted/dpkg-db.previous/status")
        assert "ovirt-node-ng-image-update" in open(kept, encoding="utf-8").read()
        # a failing run puts the database back as it was
        before = open(os.path.join(var_lib, "dpkg/status"), encoding="utf-8").read()
        item = persist.Change("ovn-missing", "9", "all", "dpkg", "install", "test",
                              file="/nonexistent.deb")
        with pytest.raises(NodeError):
            persist.reinstall(persist.PersistPlan("dpkg", [item]), target,
                              new_var=os.path.join(trees["new"], "var"))
        assert open(os.path.join(var_lib, "dpkg/status"), encoding="utf-8").read() == before
        assert not os.path.exists(os.path.join(var_lib, "dpkg.ovirt-node-old"))
    finally:
        subprocess.run(["umount", var_lib], check=True)


def test_update_packages_step_and_its_failure_leave_nothing(trees, tmp_path):
    """update.py's packages step on plain directories: announced by name, the files
    kept on the target's /var; a failure names the package and takes back the
    store files it added, so only the layer (removed by the update) changed."""
    from types import SimpleNamespace  # pylint: disable=import-outside-toplevel
    from org_ovirt_node.lifecycle import update  # pylint: disable=import-outside-toplevel
    from org_ovirt_node.progress import RecordingReporter  # pylint: disable=import-outside-toplevel
    target = pkgtrees.copy_tree(trees["new"], str(tmp_path / "target"))
    # on a node the target's /var is the node's own: the old layer's files are there
    subprocess.run(["cp", "-a", os.path.join(trees["layer"], "var/cache/apt/archives/."),
                    os.path.join(target, "var/cache/apt/archives")], check=True)
    plan = SimpleNamespace(packages=plan_of(trees), kernel_modules=None, from_layer="a+1",
                           layer="b+1")
    reporter = RecordingReporter()
    update._persist_packages(plan, trees["layer"], target, trees["new"], reporter,
                             layer_var=os.path.join(trees["layer"], "var"))
    assert ("step", "packages", "Carrying 3 package change(s) of a+1 into b+1") in \
        reporter.events
    assert status(target)["ovn-up"] == "2.0"
    assert update._persisted(plan)[0]["name"] == "ovn-added"
    # a .deb is rebuilt only from the version the node's database names
    item = persist.Change("ovn-up", "3.0", "all", "dpkg", "install", "test", source="rebuilt")
    with pytest.raises(NodeError, match="database has 2.0, not 3.0"):
        persist.collect_files(persist.PersistPlan("dpkg", [item]), trees["layer"],
                              os.path.join(trees["layer"], "var"), str(tmp_path / "v"))
    assert {"name", "version", "manager", "action"} <= set(update._persisted(plan)[0])

    target = pkgtrees.copy_tree(trees["new"], str(tmp_path / "target2"))
    bad = pkgtrees.build_deb(str(tmp_path), "ovn-bad", "1.0", postinst="exit 1")
    layer = pkgtrees.copy_tree(trees["base"], str(tmp_path / "layer"))
    os.link(bad, os.path.join(layer, "tmp/bad.deb"))
    result = subprocess.run(["chroot", layer, "dpkg", "-i", "/tmp/bad.deb"], check=False,
                            capture_output=True)
    assert result.returncode != 0          # half-configured on the node: not "installed"
    # install it cleanly instead: a postinst that fails only outside the node
    good_on_node = pkgtrees.build_deb(str(tmp_path), "ovn-bad", "1.1",
                                      postinst="[ -e /etc/on-node ] || exit 1")
    open(os.path.join(layer, "etc/on-node"), "w", encoding="utf-8").close()
    os.link(good_on_node, os.path.join(layer, "tmp/bad11.deb"))
    dpkg(layer, "-i", "/tmp/bad11.deb")
    plan = SimpleNamespace(packages=persist.plan_persist(trees["base"], layer, trees["new"]),
                           kernel_modules=None, from_layer="a+1", layer="b+1")
    store = os.path.join(target, "var", persist.STORE, "dpkg")
    with pytest.raises(NodeError, match="dpkg could not reinstall ovn-bad"):
        update._persist_packages(plan, layer, target, trees["new"], RecordingReporter(),
                                 layer_var=os.path.join(layer, "var"))
    assert os.listdir(store) == []           # the rebuilt .deb went again
    assert "ovn-bad" not in status(target)


def test_a_rebuilt_deb_ships_the_directories_a_merged_usr_node_has_as_links(trees, tmp_path):
    """bookworm's /lib is a link to usr/lib; a package that ships /lib/modules/... lists
    /lib as its directory, and the rebuilt .deb must too (a link there would hide
    every file below it)."""
    layer = pkgtrees.copy_tree(trees["base"], str(tmp_path / "layer"))
    assert os.path.islink(os.path.join(layer, "lib"))
    deb = pkgtrees.build_deb(str(tmp_path), "ovn-lib", "1.0",
                             files={"lib/modules/6.1.0-1-amd64/extra/ovn_lib.ko": "module\n"})
    os.link(deb, os.path.join(layer, "tmp/lib.deb"))
    dpkg(layer, "-i", "/tmp/lib.deb")
    plan = persist.plan_persist(trees["base"], layer, trees["new"])
    persist.locate_files(plan, os.path.join(layer, "var"))
    assert by_name(plan.changes)["ovn-lib"].source == "rebuilt"
    store = persist.collect_files(plan, layer, os.path.join(layer, "var"), str(tmp_path / "v"))
    listing = subprocess.run(["dpkg-deb", "-c", os.path.join(store, "ovn-lib_1.0_all.deb")],
                             check=True, capture_output=True, text=True).stdout.splitlines()
    entries = {line.split()[-1]: line[0] for line in listing}
    assert entries["./lib/"] == "d"
    assert entries["./lib/modules/6.1.0-1-amd64/extra/ovn_lib.ko"] == "-"
