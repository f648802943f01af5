"""Copying what a new image adds under /var, on real trees, never touching what exists."""

import os
import subprocess

import pytest

from org_ovirt_node.errors import NodeError
from org_ovirt_node.lifecycle.varcopy import copy_absent, plan_copy_absent
from tests.support.fstrees import metadata, read, write


@pytest.fixture
def trees(tmp_path):
    """(SOURCE, TARGET): the image's /var and the node's /var."""
    source, target = tmp_path / "image-var", tmp_path / "node-var"
    source.mkdir()
    target.mkdir()
    return str(source), str(target)


def test_existing_entries_are_never_touched(trees):
    source, target = trees
    write(f"{source}/lib/rpm/db", b"image\n")
    write(f"{target}/lib/rpm/db", b"node\n")
    os.chmod(f"{target}/lib/rpm/db", 0o600)
    before = metadata(f"{target}/lib/rpm/db")
    assert plan_copy_absent(source, target) == []
    assert copy_absent(["lib/rpm/db"], source, target) == []
    assert read(f"{target}/lib/rpm/db") == b"node\n"
    assert metadata(f"{target}/lib/rpm/db") == before


def test_absent_entries_are_copied_with_metadata(trees):
    source, target = trees
    os.makedirs(f"{target}/lib")
    write(f"{source}/lib/newsvc/state/db", b"state\n")
    write(f"{source}/lib/newsvc/state/.keep", b"")
    os.symlink("state/db", f"{source}/lib/newsvc/current")
    os.mkfifo(f"{source}/lib/newsvc/control", 0o620)
    os.chown(f"{source}/lib/newsvc/state", 1234, 4321)
    os.chmod(f"{source}/lib/newsvc/state", 0o2750)
    os.setxattr(f"{source}/lib/newsvc/state/db", "user.origin", b"image")
    os.setxattr(f"{source}/lib/newsvc/state/db", "trusted.tag", b"t")
    subprocess.run(["setfacl", "-m", "u:1234:rw", f"{source}/lib/newsvc/state/db"], check=True)
    subprocess.run(["setfacl", "-d", "-m", "g:4321:rx", f"{source}/lib/newsvc"], check=True)
    write(f"{source}/top.conf")
    os.utime(f"{source}/top.conf", ns=(5, 5_000_000_000))
    paths = plan_copy_absent(source, target)
    assert paths == ["lib/newsvc", "top.conf"]
    assert copy_absent(paths, source, target) == paths
    for path in ("lib/newsvc", "lib/newsvc/state", "lib/newsvc/state/db",
                 "lib/newsvc/state/.keep", "lib/newsvc/current", "lib/newsvc/control",
                 "top.conf"):
        assert metadata(f"{target}/{path}") == metadata(f"{source}/{path}"), path
    assert read(f"{target}/lib/newsvc/state/db") == b"state\n"


def test_nested_mount_points_are_skipped(trees):
    source, target = trees
    write(f"{source}/log/audit/audit.log")
    write(f"{source}/log/messages")
    write(f"{source}/tmp/marker")
    os.makedirs(f"{target}/log/audit")
    assert plan_copy_absent(source, target, skip=("log/audit", "/tmp/")) == ["log/messages"]


def test_symlinks_are_not_crossed(trees, tmp_path):
    source, target = trees
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write(f"{source}/cache/dnf/pkg")
    os.symlink(elsewhere, f"{target}/cache")
    os.makedirs(f"{target}/opt")
    os.symlink(elsewhere, f"{source}/opt")
    write(str(elsewhere / "inside"))
    os.symlink(elsewhere, f"{source}/run")
    assert plan_copy_absent(source, target) == ["run"]
    assert copy_absent(["run"], source, target) == ["run"]
    assert os.readlink(f"{target}/run") == str(elsewhere)
    assert sorted(os.listdir(elsewhere)) == ["inside"]


def test_a_symlink_on_the_way_in_target_is_refused(trees, tmp_path):
    source, target = trees
    outside = tmp_path / "outside"
    outside.mkdir()
    write(f"{source}/lib/new/file")
    os.makedirs(f"{target}/lib")
    paths = plan_copy_absent(source, target)
    os.rmdir(f"{target}/lib")
    os.symlink(outside, f"{target}/lib")
    with pytest.raises(NodeError, match="symlink is never written through"):
        copy_absent(paths, source, target)
    assert os.listdir(outside) == []


def test_what_appeared_since_the_plan_is_left_alone(trees, tmp_path):
    source, target = trees
    write(f"{source}/spool/job", b"image\n")
    write(f"{source}/lib/x", b"image\n")
    paths = plan_copy_absent(source, target)
    os.symlink(tmp_path / "nowhere", f"{target}/lib")
    write(f"{target}/spool/job", b"node\n")
    assert copy_absent(paths, source, target) == []
    assert read(f"{target}/spool/job") == b"node\n"
    assert not os.path.exists(tmp_path / "nowhere")


def test_bad_paths_are_refused(trees):
    source, target = trees
    with pytest.raises(NodeError, match="not a plain relative path"):
        copy_absent(["../escape"], source, target)
