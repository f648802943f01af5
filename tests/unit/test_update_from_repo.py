"""`ovirt-node update --package NAME --repo URL` (lifecycle/fromrepo.py): the
image-update package downloaded from a real repository by the node's own
manager and unpacked to the image update's preflight runs on.

The repositories are what `ovirt-node image package --repo` writes, read by
the real apt-get (private lists, cache and source list; this host's dpkg
database, read only) and dnf (an empty --installroot). Installing the package
runs the update, so that half is the node VM story's; here the refusals that
come before anything is fetched are checked through the CLI, and the
command's own order (fetch, unpack, the child preflight, its plan first, exit
77, a refusal installing nothing, the install, the default checked after, the
run's folder gone) with the node's side stood in for.
"""

import json
import os
import shutil
import subprocess

import pytest

from org_ovirt_node.cli.main import main
from org_ovirt_node.errors import NodeError
from org_ovirt_node.image import package
from org_ovirt_node.image.build import build_image
from org_ovirt_node.lifecycle import fromrepo
from tests.support.images import make_root_tree, needs_root

NVR = "ovirt-node-ng-4.5.6-0.20250101.0"
VR = "4.5.6-0.20250101.0"
TOOLS = ("rpmbuild", "rpm", "rpm2cpio", "cpio", "createrepo_c", "dpkg-deb", "apt-get", "dnf")
needs_tools = pytest.mark.skipif(not all(shutil.which(tool) for tool in TOOLS),
                                 reason=f"needs {', '.join(TOOLS)} (make deps installs them)")


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    """A small image with a .sig, packaged into an rpm and a deb repository."""
    base = tmp_path_factory.mktemp("fromrepo")
    tree = make_root_tree(base / "tree", nvr=NVR)
    image = base / "node.squashfs"
    build_image(tree, image, NVR)
    (base / "node.squashfs.sig").write_bytes(b"detached signature bytes\n")
    made = {}
    for fmt in ("rpm", "deb"):
        made[fmt] = base / f"repo-{fmt}"
        package.build_package(str(image), fmt=fmt, repo=str(made[fmt]))
    return image, made


@needs_root
@needs_tools
def test_deb_fetched_by_apt_get_and_unpacked(repos, tmp_path):
    image, made = repos
    version, files = fromrepo.fetch("deb", package.PACKAGE, f"file://{made['deb']}",
                                    str(tmp_path))
    assert version == VR
    assert [os.path.basename(path) for path in files] == [package.deb_file_name(NVR)]
    unpacked, records = fromrepo.extract("deb", files, str(tmp_path / "root"))
    assert os.path.basename(unpacked) == package.image_name(NVR)
    assert open(unpacked, "rb").read() == image.read_bytes()
    beside = os.listdir(os.path.dirname(unpacked))
    assert sorted(beside) == sorted([package.image_name(NVR), package.image_name(NVR) + ".sha256",
                                     package.image_name(NVR) + ".sig"])
    assert [os.path.basename(path) for path in records] == [package.deb_file_name(NVR)]


@needs_root
@needs_tools
def test_rpm_and_its_apply_package_fetched_by_dnf_and_unpacked(repos, tmp_path):
    image, made = repos
    root = tmp_path / "installroot"
    root.mkdir()
    env_home = tmp_path / "home"
    env_home.mkdir()
    (env_home / ".rpmmacros").write_text("%_dbpath /var/lib/rpm\n")
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(env_home)
    try:
        subprocess.run(["rpm", "--root", str(root), "--initdb"], check=True)
        version, files = fromrepo.fetch("rpm", package.PACKAGE, f"file://{made['rpm']}",
                                        str(tmp_path / "work"), root=str(root))
    finally:
        os.environ["HOME"] = old_home
    assert version == VR
    assert [os.path.basename(path) for path in files] == package.rpm_file_names(NVR)
    unpacked, records = fromrepo.extract("rpm", files, str(tmp_path / "root"))
    assert open(unpacked, "rb").read() == image.read_bytes()
    assert [os.path.basename(path) for path in records] == sorted(package.rpm_file_names(NVR))


@needs_root
@needs_tools
def test_missing_package_is_the_managers_one_line(repos, tmp_path):
    _, made = repos
    with pytest.raises(NodeError, match=r"^apt-get download no-such-package from file://.*: E: "):
        fromrepo.fetch("deb", "no-such-package", f"file://{made['deb']}", str(tmp_path))


@pytest.mark.parametrize("name, repo, message", [
    ("ovirt-node-ng-image-update", "ftp://host/repo", "--repo 'ftp://host/repo': give a"),
    ("ovirt-node-ng-image-update", "file:///repo ./\ndeb x", "without spaces"),
    ("ovirt-node-ng-image-update", "file:///nonexistent/repo", "is not a folder"),
    ("-o=APT::X", "file:///tmp", "not a package name"),
    ("a b", "file:///tmp", "not a package name"),
])
def test_bad_requests_refused(name, repo, message):
    with pytest.raises(NodeError, match=message):
        fromrepo.check_request(name, repo)


def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, message", [
    (["--image", "x.squashfs", "--repo", "file:///tmp"], "with --image give no --repo"),
    (["--package", "ovirt-node-ng-image-update"], "--package needs --repo URL"),
    (["--package", "p", "--repo", "file:///tmp", "--tries", "1"],
     "--tries cannot go with --package"),
    (["--package", "p", "--repo", "file:///tmp", "--force", "--vg", "onn"],
     "--force, --vg cannot go with --package"),
])
def test_cli_refusals_are_one_line(capsys, argv, message):
    code, out, err = _cli(capsys, "update", *argv, "--json")
    assert code == 1 and out == ""
    [line] = err.splitlines()
    assert line.startswith("ovirt-node: error: ") and message in line


def test_package_needs_a_booted_node(capsys, monkeypatch):
    """Off a node (no img.bootid= on this host's command line) nothing is fetched."""
    from org_ovirt_node.cli import lifecycle  # pylint: disable=import-outside-toplevel
    monkeypatch.setattr(lifecycle, "running_layer", lambda: None)
    code, _, err = _cli(capsys, "update", "--package", package.PACKAGE, "--repo", "file:///tmp",
                        "--json")
    assert code == 1 and "--package runs on the booted node" in err


def test_image_and_package_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["update", "--image", "x", "--package", "p", "--repo", "file:///tmp"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


class _Repo:
    """run_update_from_repo with the node's side given here: fetch, unpack and
    install are recorded stand-ins, and the child CLI runs (preflight, status)
    answer as given. What is checked is the command's own order of things."""

    def __init__(self, monkeypatch, tmp_path, preflight_code=0, problems=(), default="B+1"):
        from org_ovirt_node.cli import lifecycle  # pylint: disable=import-outside-toplevel
        self.work = tmp_path / "work"
        self.installed = []
        self.children = []
        plan = {"nvr": "B", "layer": "B+1", "from_layer": "A+1", "problems": list(problems),
                "up_to_date": preflight_code == 77, "etc_conflicts": [],
                "boot_entry": {"ids": ["B+1-k"], "fallback": "A+1-k"}}

        def child(argv):
            self.children.append(argv)
            if argv[0] == "status":
                return 0, [{"default_layer": default, "default_entry": f"{default}-k"}], ""
            return preflight_code, [{"event": "step", "step": "preflight"},
                                    {"event": "plan", "plan": plan}], ""

        def work_dir():
            self.work.mkdir()
            return str(self.work)

        monkeypatch.setattr(lifecycle, "running_layer", lambda: "A+1")
        monkeypatch.setattr(lifecycle, "_cli_json", child)
        monkeypatch.setattr(fromrepo, "node_format", lambda: "deb")
        monkeypatch.setattr(fromrepo, "work_dir", work_dir)
        monkeypatch.setattr(fromrepo, "fetch", lambda fmt, name, repo, work: (
            "4.5.7-1", [os.path.join(work, "p_4.5.7-1_all.deb")]))
        monkeypatch.setattr(fromrepo, "extract", lambda fmt, files, target: (
            os.path.join(target, "B.squashfs.img"), [os.path.join(target, "record.deb")]))
        monkeypatch.setattr(fromrepo, "install", lambda fmt, files, repo, work: (
            self.installed.append(files) or "Setting up p (4.5.7-1) ..."))


def _events(out):
    return [json.loads(line) for line in out.splitlines()]


def test_repo_dry_run_is_the_preflight_of_the_packaged_image(monkeypatch, tmp_path, capsys):
    repo = _Repo(monkeypatch, tmp_path)
    code, out, _ = _cli(capsys, "update", "--package", "p", "--repo", "file:///tmp", "--dry-run",
                        "--json")
    assert code == 0 and repo.installed == []
    [step, info, plan] = _events(out)
    assert (step["step"], info["event"], plan["event"]) == ("download", "info", "plan")
    assert plan["package"] == {"name": "p", "version": "4.5.7-1", "format": "deb",
                               "repo": "file:///tmp", "files": ["p_4.5.7-1_all.deb"],
                               "image": "B.squashfs.img"}
    [preflight] = repo.children
    assert preflight[:2] == ["update", "--image"] and "--dry-run" in preflight
    assert preflight[preflight.index("--image-package") + 1].endswith("record.deb")
    assert not repo.work.exists()


def test_repo_update_installs_after_its_plan_and_checks_the_default(monkeypatch, tmp_path,
                                                                   capsys):
    repo = _Repo(monkeypatch, tmp_path)
    code, out, _ = _cli(capsys, "update", "--package", "p", "--repo", "file:///tmp", "--yes",
                        "--unchanged-exit-77", "--json")
    assert code == 0
    events = _events(out)
    assert [event["event"] for event in events] == ["step", "info", "plan", "step", "result"]
    assert repo.installed == [[str(repo.work / "p_4.5.7-1_all.deb")]]
    assert [argv[0] for argv in repo.children] == ["update", "status"]
    assert "--unchanged-exit-77" in repo.children[0]
    result = events[-1]
    assert (result["layer"], result["from_layer"], result["default_entry"]) == \
        ("B+1", "A+1", "B+1-k")
    assert result["output"].startswith("Setting up p")
    assert not repo.work.exists()


def test_repo_unchanged_exits_77_installing_nothing(monkeypatch, tmp_path, capsys):
    repo = _Repo(monkeypatch, tmp_path, preflight_code=77)
    code, out, _ = _cli(capsys, "update", "--package", "p", "--repo", "file:///tmp", "--yes",
                        "--unchanged-exit-77", "--json")
    assert code == 77 and repo.installed == []
    assert _events(out)[-1]["event"] == "plan"


def test_repo_refused_preflight_installs_nothing(monkeypatch, tmp_path, capsys):
    repo = _Repo(monkeypatch, tmp_path, preflight_code=1, problems=["pool pool00 is full"])
    code, _, err = _cli(capsys, "update", "--package", "p", "--repo", "file:///tmp", "--yes",
                        "--json")
    assert code == 1 and repo.installed == []
    assert err.strip() == "ovirt-node: error: update refused, nothing was written: pool pool00 is full"
    assert not repo.work.exists()


def test_repo_install_that_left_another_default_is_an_error(monkeypatch, tmp_path, capsys):
    repo = _Repo(monkeypatch, tmp_path, default="A+1")
    code, _, err = _cli(capsys, "update", "--package", "p", "--repo", "file:///tmp", "--yes",
                        "--json")
    assert code == 1 and repo.installed
    assert "p 4.5.7-1 installed, but the boot default is A+1, not B+1" in err
