"""The Ansible collection ovirt.node (ansible_collections/ovirt/node/): its own
`ansible-test sanity` and `ansible-test units`, offline, and its build.

ansible-test runs from a copy of the collection in a temporary
ansible_collections/ovirt/node, with a private HOME (under the venv, so its
sanity virtualenvs are made once and reused):
- its pip.conf says no-index and finds links only in the wheelhouse `make deps`
  fills from PyPI (the Makefile's ansible-test-wheels: every sanity test's
  pinned requirements and the pip ansible-test bootstraps);
- ~/.ansible/test/cache/get_pip_<version>.py is a stand-in for the bootstrap
  script ansible-test would download: it installs pip from that wheel.
So nothing reaches the network, and where this host lets root make a network
namespace (`unshare -n`), ansible-test runs in one with no network at all, so
a run that tried would fail. A failing run shows ansible-test's output.
"""

import os
import shutil
import subprocess
import sys
import tarfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTION = os.path.join(REPO, "ansible_collections", "ovirt", "node")
SHARE = os.path.join(sys.prefix, "share", "ovirt-node-ansible-test")
WHEELS = os.path.join(SHARE, "wheels")
BIN = os.path.dirname(sys.executable)

GET_PIP = '''"""Stand-in for ansible-test's downloaded get-pip.py: pip from its wheel, offline."""
import sys
sys.path.insert(0, {wheel!r})
from pip._internal.cli.main import main
ARGS = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--no-index", "--find-links", {wheels!r}, "--upgrade",
               "--force-reinstall"] + ARGS))
'''

PIP_CONF = "[global]\nno-index = true\nfind-links = {wheels}\ndisable-pip-version-check = true\n"


def _write_if_changed(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path, encoding="utf-8") as stream:
            if stream.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)


def offline_home():
    """The private HOME ansible-test runs with (made idempotently), or skip."""
    if not os.path.isfile(os.path.join(WHEELS, ".complete")):
        pytest.skip(f"no ansible-test wheelhouse in {WHEELS}: run make deps")
    with open(os.path.join(WHEELS, "pip-version"), encoding="utf-8") as stream:
        pip_version = stream.read().strip()
    wheel = os.path.join(WHEELS, f"pip-{pip_version}-py3-none-any.whl")
    assert os.path.isfile(wheel), wheel
    home = os.path.join(SHARE, "home")
    _write_if_changed(os.path.join(home, ".config", "pip", "pip.conf"),
                      PIP_CONF.format(wheels=WHEELS))
    _write_if_changed(os.path.join(home, ".ansible", "test", "cache",
                                   f"get_pip_{pip_version.replace('.', '_')}.py"),
                      GET_PIP.format(wheel=wheel, wheels=WHEELS))
    return home


@pytest.fixture(scope="module")
def collection_copy(tmp_path_factory):
    """A copy of the collection at .../ansible_collections/ovirt/node."""
    if not os.path.exists(os.path.join(BIN, "ansible-test")):
        pytest.skip("ansible-core is not installed in this venv: run make deps")
    root = tmp_path_factory.mktemp("collections")
    target = os.path.join(root, "ansible_collections", "ovirt", "node")
    shutil.copytree(COLLECTION, target, ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", "output", "*.tar.gz"))
    return target


def _no_network():
    """["unshare", "-n"] when this host can run a command without any network, else []."""
    if not shutil.which("unshare"):
        return []
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return ["unshare", "-n"] if probe.returncode == 0 else []


def _ansible_test(collection, *args, home):
    env = {"PATH": BIN + os.pathsep + os.environ.get("PATH", os.defpath), "HOME": home,
           "LC_ALL": "C.UTF-8", "ANSIBLE_TEST_PREFER_PODMAN": ""}
    return subprocess.run([*_no_network(), os.path.join(BIN, "ansible-test"), *args, "--local",
                           "--python", f"{sys.version_info[0]}.{sys.version_info[1]}",
                           "--color", "no"],
                          cwd=collection, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=900, check=False)


def _assert_passed(run):
    assert run.returncode == 0, f"{' '.join(run.args)} exited {run.returncode}:\n{run.stdout}"


def test_ansible_test_sanity(collection_copy):
    _assert_passed(_ansible_test(collection_copy, "sanity", home=offline_home()))


def test_ansible_test_units(collection_copy):
    _assert_passed(_ansible_test(collection_copy, "units", home=offline_home()))


def test_collection_builds(collection_copy, tmp_path):
    """`ansible-galaxy collection build` makes ovirt-node-<version>.tar.gz with the
    modules, the role, the playbook and the module_utils."""
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "none")}
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build",
                    "--output-path", str(tmp_path), collection_copy], check=True, env=env,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    [built] = [name for name in os.listdir(tmp_path) if name.endswith(".tar.gz")]
    assert built.startswith("ovirt-node-")
    with tarfile.open(tmp_path / built) as archive:
        names = set(archive.getnames())
    for name in ("galaxy.yml", "info.py", "update.py", "rollback.py", "check.py"):
        assert name == "galaxy.yml" or f"plugins/modules/{name}" in names, names
    assert "MANIFEST.json" in names
    assert "plugins/module_utils/cli.py" in names
    assert "roles/rolling_update/tasks/main.yml" in names
    assert "playbooks/rolling_update.yml" in names
    assert not any("tests/output" in name for name in names)
