"""What ships the add-on: updates.img for a stock installer, the noarch RPM
and the translation template, each built with its make rule."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.support.addon_service import ROOT

pytestmark = pytest.mark.integration

ADDONS = "usr/share/anaconda/addons/org_ovirt_node"
DBUS_FILES = [
    "usr/share/anaconda/dbus/services/org.fedoraproject.Anaconda.Addons.OvirtNode.service",
    "usr/share/anaconda/dbus/confs/org.fedoraproject.Anaconda.Addons.OvirtNode.conf",
]
ADDON_FILES = [ADDONS + "/" + path for path in (
    "service/__main__.py", "service/interface.py", "ks/section.py",
    "install/pipeline.py", "ui/presenter.py", "ui/i18n.py",
    "tui/spokes/ovirt_node.py", "tui/node_form.py",
    "gui/spokes/ovirt_node.py", "gui/spokes/ovirt_node.glade", "gui/node_controller.py",
)] + DBUS_FILES
# What every Anaconda image holds (the add-on runs in its processes).
INSTALLER_MODULES = {"blivet", "bytesize", "parted", "pyudev", "pykickstart", "requests",
                     "urllib3", "idna", "charset_normalizer", "six", "dasbus",
                     "simpleline", "gi"}
# Python's own and gi's helper modules.
NOT_PACKAGES = {"cython_runtime", "gio", "glib", "gobject", "gtk"}
RUNTIME_MODULES = ["org_ovirt_node.service.server", "org_ovirt_node.service.tasks",
                   "org_ovirt_node.install.pipeline", "org_ovirt_node.ui.installer",
                   "org_ovirt_node.tui.node_form", "org_ovirt_node.gui.node_controller"]


def make(*args):
    result = subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.skipif(not shutil.which("cpio"), reason="needs cpio")
def test_updates_img_adds_the_addon_at_root(tmp_path):
    make("updates", f"OUT={tmp_path}")
    image = tmp_path / "updates.img"
    with open(image, "rb") as handle:
        assert handle.read(2) == b"\x1f\x8b"  # gzip
    unpacked = tmp_path / "root"
    unpacked.mkdir()
    listing = subprocess.run(f"zcat {image} | cpio -idv --quiet 2>&1", shell=True,
                             cwd=unpacked, capture_output=True, text=True, check=True)
    names = set(listing.stdout.split())
    for path in ADDON_FILES:
        assert path in names and (unpacked / path).is_file(), path
    assert not any("__pycache__" in name or name.startswith("/") for name in names)
    verbose = subprocess.run(f"zcat {image} | cpio -itv --quiet", shell=True,
                             capture_output=True, text=True, check=True).stdout
    assert all(line.split()[2:4] == ["root", "root"] for line in verbose.splitlines())
    # Anaconda puts addons/ on the module path; the service then starts from it.
    result = subprocess.run([sys.executable, "-m", "org_ovirt_node.service"],
                            cwd=tmp_path, env={"PATH": os.environ["PATH"],
                                               "PYTHONPATH": str(unpacked / ADDONS / "..")},
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "no D-Bus address" in result.stderr


def test_the_addon_needs_no_python_package_the_installer_lacks():
    """So updates.img carries only org_ovirt_node (jinja2 and yaml serve the CLI)."""
    code = ("import json, sys\nbefore = set(sys.modules)\n"
            + "".join(f"import {module}\n" for module in RUNTIME_MODULES)
            + "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    loaded = set(json.loads(result.stdout))
    third_party = {name for name in loaded if name not in sys.stdlib_module_names
                   and not name.startswith("_")} - NOT_PACKAGES - {"org_ovirt_node"}
    assert third_party <= INSTALLER_MODULES, third_party - INSTALLER_MODULES
    assert not loaded & {"jinja2", "yaml", "lxml"}


@pytest.mark.skipif(not shutil.which("rpmbuild"), reason="needs rpmbuild")
def test_rpm_is_noarch_with_the_addon(tmp_path):
    make("rpm", f"OUT={tmp_path}")
    rpms = list((tmp_path / "rpmbuild" / "RPMS" / "noarch").glob("*.rpm"))
    assert [rpm.name for rpm in rpms] == ["ovirt-node-anaconda-addon-0.1.0-1.noarch.rpm"]
    query = subprocess.run(["rpm", "-qp", "--qf", "%{NAME} %{ARCH}", str(rpms[0])],
                           capture_output=True, text=True, check=True).stdout
    assert query == "ovirt-node-anaconda-addon noarch"
    files = set(subprocess.run(["rpm", "-qlp", str(rpms[0])], capture_output=True,
                               text=True, check=True).stdout.split())
    for path in ADDON_FILES:
        assert "/" + path in files, path


@pytest.mark.skipif(not shutil.which("xgettext"), reason="needs xgettext")
def test_potfile_holds_the_spoke_strings(tmp_path):
    potfile = tmp_path / "org_ovirt_node.pot"
    make("potfile", f"POTFILE={potfile}")
    text = potfile.read_text(encoding="utf-8")
    for message in ("Image URL", "Volume profile", "Node image not set",
                    "Minimal: a separate /var only", "oVirt Node installation",
                    "_OVIRT NODE", "_Image URL:", "Planned layout", "OVIRT NODE"):
        assert f'msgid "{message}"' in text, message
    assert "ovirt_node.glade:" in text and "presenter.py:" in text


def test_only_the_spoke_glue_imports_pyanaconda():
    """Everything else runs (and is tested) without the installer; the glue
    modules, which cannot be imported here, at least compile."""
    package = os.path.join(ROOT, "org_ovirt_node")
    importers = set()
    for directory, _dirs, files in os.walk(package):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                with open(path, encoding="utf-8") as handle:
                    source = handle.read()
                if any(line.lstrip().startswith(("from pyanaconda", "import pyanaconda"))
                       for line in source.splitlines()):
                    importers.add(os.path.relpath(path, package))
                    compile(source, path, "exec")
    assert importers == {"gui/spokes/ovirt_node.py", "tui/spokes/ovirt_node.py",
                         "service/anaconda.py"}
