"""Packages persist across updates, rpm side, on real rpm roots (no mocks).

Each root is made with `rpm --root --initdb` and noarch rpms built by
rpmbuild (a "test-base" package provides /bin/sh, busybox, for the
scriptlets). The step runs this host's rpm with --root on the new tree
(the trees have no rpm of their own), with /proc, /sys, /dev and /run
mounted in it; a repository fetch runs dnf against a createrepo_c repo.
"""

import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import pkgtrees  # noqa: E402  pylint: disable=wrong-import-position

from org_ovirt_node.errors import NodeError  # noqa: E402
from org_ovirt_node.lifecycle import persist  # noqa: E402

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot, mounts)"),
              pytest.mark.skipif(shutil.which("rpmbuild") is None, reason="needs rpmbuild")]


def rpm(root, *args):
    subprocess.run(["rpm", "--root", root, "--dbpath", "/var/lib/rpm", *args], check=True,
                   capture_output=True)


def installed(root):
    return {name: [pkg.version for pkg in pkgs] for name, pkgs in persist.read_rpm(root).items()}


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    work = tmp_path_factory.mktemp("rpm")
    rpms = work / "rpms"
    rpms.mkdir()
    made = {key: pkgtrees.build_rpm(str(rpms), *key) for key in [
        ("ovn-gone", "1.0"), ("ovn-up", "1.0"), ("ovn-up", "2.0"), ("ovn-added", "1.0"),
        ("ovn-newer", "1.0"), ("ovn-newer", "1.5"), ("ovirt-node-ng-image-update", "4.5.6")]}
    made["base"] = pkgtrees.build_rpm(str(rpms), "test-base", "1", provides="/bin/sh")
    base = pkgtrees.rpm_tree(str(work / "base"), [made["base"], made[("ovn-gone", "1.0")],
                                                  made[("ovn-up", "1.0")]])
    layer = pkgtrees.copy_tree(base, str(work / "layer"))
    rpm(layer, "-U", made[("ovn-up", "2.0")], made[("ovn-added", "1.0")],
        made[("ovn-newer", "1.0")], made[("ovirt-node-ng-image-update", "4.5.6")])
    rpm(layer, "-e", "ovn-gone")
    cache = os.path.join(layer, "var/cache/dnf/local-1234/packages")
    os.makedirs(cache)
    shutil.copy2(made[("ovn-added", "1.0")], cache)      # dnf kept one (keepcache)
    new = pkgtrees.copy_tree(base, str(work / "new"))
    rpm(new, "-U", made[("ovn-newer", "1.5")])
    return {"base": base, "layer": layer, "new": new, "rpms": made, "work": work}


def by_name(items):
    return {item.name: item for item in items}


def test_plan_reads_the_rpm_databases(trees):
    plan = persist.plan_persist(trees["base"], trees["layer"], trees["new"])
    assert plan.manager == "rpm"
    changes, dropped = by_name(plan.changes), by_name(plan.dropped)
    assert set(changes) == {"ovn-added", "ovn-up", "ovn-gone"}
    assert changes["ovn-up"].version == "2.0-1" and changes["ovn-up"].action == "install"
    assert changes["ovn-gone"].action == "remove"
    assert dropped["ovn-newer"].reason == "the new image has 1.5-1 (newer)"
    assert dropped["ovirt-node-ng-image-update"].reason == "the image's own update package"
    plan = persist.plan_persist(trees["base"], trees["layer"], trees["new"], skip=("ovn-gone",))
    assert by_name(plan.dropped)["ovn-gone"].reason == "--skip-persisted"


def test_versions_compare_like_rpm():
    assert persist.compare("rpm", "1.10-1", "1.9-1") == 1
    assert persist.compare("rpm", "1:1.0-1", "2.0-1") == 1
    assert persist.compare("rpm", "1.0~rc1-1", "1.0-1") == -1


def test_reinstall_from_cache_and_store_else_repository(trees, tmp_path):
    plan = persist.plan_persist(trees["base"], trees["layer"], trees["new"])
    persist.locate_files(plan, os.path.join(trees["layer"], "var"))
    changes = by_name(plan.changes)
    assert changes["ovn-added"].source == "dnf cache"
    assert changes["ovn-up"].source == "repository"       # the plan says it will be fetched
    # an earlier update kept ovn-up in the store: found there
    target = pkgtrees.copy_tree(trees["new"], str(tmp_path / "target"))
    store = os.path.join(target, "var", persist.STORE, "rpm")
    os.makedirs(store)
    shutil.copy2(trees["rpms"][("ovn-up", "2.0")], store)
    persist.locate_files(plan, os.path.join(target, "var"))
    assert by_name(plan.changes)["ovn-up"].source == "persisted"
    persist.locate_files(plan, os.path.join(trees["layer"], "var"))
    by_name(plan.changes)["ovn-up"].source, by_name(plan.changes)["ovn-up"].path = \
        "persisted", os.path.join(store, "ovn-up-2.0-1.noarch.rpm")
    persist.collect_files(plan, trees["layer"], os.path.join(trees["layer"], "var"),
                          os.path.join(target, "var"))
    assert sorted(os.listdir(store)) == ["ovn-added-1.0-1.noarch.rpm",
                                         "ovn-up-2.0-1.noarch.rpm"]
    persist.reinstall(plan, target)
    now = installed(target)
    assert now["ovn-added"] == ["1.0-1"] and now["ovn-up"] == ["2.0-1"]
    assert now["ovn-newer"] == ["1.5-1"]
    assert "ovn-gone" not in now and "ovirt-node-ng-image-update" not in now
    for rel in ("proc", "sys", "dev", "run"):
        assert not os.path.ismount(os.path.join(target, rel))


def test_a_failing_rpm_names_itself_and_rpms_error(trees, tmp_path):
    bad = pkgtrees.build_rpm(str(tmp_path), "ovn-bad", "1.0",
                             pre='[ -e /etc/ovn-bad-ok ] || { echo "ovn-bad: no licence" >&2; exit 1; }')
    layer = pkgtrees.copy_tree(trees["base"], str(tmp_path / "layer"))
    os.makedirs(os.path.join(layer, "etc"), exist_ok=True)
    open(os.path.join(layer, "etc/ovn-bad-ok"), "w", encoding="utf-8").close()
    rpm(layer, "-U", bad, trees["rpms"][("ovn-added", "1.0")])
    target = pkgtrees.copy_tree(trees["new"], str(tmp_path / "target"))
    plan = persist.plan_persist(trees["base"], layer, trees["new"])
    for item in plan.changes:
        item.source, item.path = "persisted", (bad if item.name == "ovn-bad"
                                               else trees["rpms"][("ovn-added", "1.0")])
    persist.collect_files(plan, layer, os.path.join(layer, "var"), os.path.join(target, "var"))
    with pytest.raises(NodeError) as raised:
        persist.reinstall(plan, target)
    message = str(raised.value)
    assert "rpm could not reinstall ovn-bad in the new layer" in message
    assert "ovn-bad: no licence" in message and "scriptlet failed, exit status 1" in message
    assert "ovn-bad" not in installed(target)
    for rel in ("proc", "sys", "dev", "run"):
        assert not os.path.ismount(os.path.join(target, rel))
