"""The Cockpit page as built and shipped: dist/ holds a Cockpit package
(manifest, index.html, the bundle), `make install` lays it out as
/usr/share/cockpit/ovirt-node, and the po template lists every string the
sources pass to cockpit.gettext. The browser story runs on the real node: tests/vm/test_node_vm.py.
"""

import json
import os
import re
import subprocess

import pytest

from tests.support.vm import REPO

pytestmark = pytest.mark.integration
PAGE = os.path.join(REPO, "data", "cockpit", "ovirt-node")
DIST = os.path.join(PAGE, "dist")
POT = os.path.join(PAGE, "po", "ovirt-node.pot")
# _("...") with the string's escapes (\" and \\) kept as written.
GETTEXT_CALL = re.compile(r'\b_\(\s*"((?:[^"\\]|\\.)*)"')


@pytest.fixture(scope="module")
def dist():
    """Build the page (npm ci from the lockfile, then esbuild) unless it is up to date."""
    subprocess.run(["make", "--no-print-directory", "cockpit"], cwd=REPO, check=True,
                   capture_output=True)
    return DIST


def sources():
    src = os.path.join(PAGE, "src")
    return [os.path.join(src, name) for name in sorted(os.listdir(src))
            if name.endswith((".js", ".jsx"))]


def source_strings():
    strings = set()
    for path in sources():
        with open(path, encoding="utf-8") as handle:
            strings.update(GETTEXT_CALL.findall(handle.read()))
    return strings


def pot_strings():
    with open(POT, encoding="utf-8") as handle:
        text = handle.read()
    # a long msgid is wrapped: msgid "" then one quoted piece per line
    found = re.findall(r'^msgid ((?:"(?:[^"\\]|\\.)*"\n?)+)', text, re.M)
    pieces = (re.findall(r'"((?:[^"\\]|\\.)*)"', block) for block in found)
    return {msgid for msgid in ("".join(parts) for parts in pieces) if msgid}


def test_dist_is_a_cockpit_package(dist):
    names = set(os.listdir(dist))
    assert {"manifest.json", "index.html", "index.js", "index.css"} <= names
    with open(os.path.join(dist, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    assert manifest["tools"]["index"]["label"] == "oVirt Node"
    with open(os.path.join(dist, "index.html"), encoding="utf-8") as handle:
        html = handle.read()
    for reference in ('src="../base1/cockpit.js"', 'src="index.js"', 'href="index.css"',
                      'src="po.js"'):
        assert reference in html
    with open(os.path.join(dist, "index.js"), encoding="utf-8") as handle:
        bundle = handle.read()
    # Bundled: React, PatternFly and the page; it talks to the node only through the CLI.
    assert "pf-v5-c-modal-box" in bundle and "ovirt-node" in bundle
    assert '"--json"' in bundle and 'superuser:"require"' in bundle
    assert "pf-v5-theme-dark" in bundle


def test_install_ships_the_page(dist, tmp_path):
    subprocess.run(["make", "--no-print-directory", "install", f"DESTDIR={tmp_path}"],
                   cwd=REPO, check=True, capture_output=True)
    shipped = set(os.listdir(tmp_path / "usr/share/cockpit/ovirt-node"))
    assert {"manifest.json", "index.html", "index.js", "index.css"} <= shipped
    assert not any(name.endswith(".map") for name in shipped)


def test_po_template_lists_every_string():
    strings = source_strings()
    assert "Update from image…" in strings and "Roll back to…" in strings
    assert "Remove old images" in strings and "Health" in strings
    missing = strings - pot_strings()
    assert not missing, f"run make cockpit-potfile: {sorted(missing)}"
    stale = pot_strings() - strings
    assert not stale, f"run make cockpit-potfile: {sorted(stale)}"


def test_every_visible_string_goes_through_gettext():
    """JSX text is wrapped in {_("...")}: no bare words between tags."""
    bare = re.compile(r">\s*([A-Za-z][A-Za-z ,.'…]+?)\s*</")
    for path in sources():
        with open(path, encoding="utf-8") as handle:
            found = bare.findall(handle.read())
        assert not found, (path, found)
