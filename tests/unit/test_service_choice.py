"""Which implementation `python3 -m org_ovirt_node.service` runs, decided
here without pyanaconda: the dasbus server where pyanaconda is absent, the
Anaconda glue where a pyanaconda package can be imported."""

import ast
import importlib
import importlib.util
import os

from org_ovirt_node.service.__main__ import choose_server
from tests.support.addon_service import ROOT


def test_without_pyanaconda_the_dasbus_server_serves():
    assert importlib.util.find_spec("pyanaconda") is None
    assert choose_server() == "org_ovirt_node.service.server"
    assert callable(importlib.import_module(choose_server()).main)


def test_with_pyanaconda_the_anaconda_glue_serves(tmp_path, monkeypatch):
    (tmp_path / "pyanaconda").mkdir()
    (tmp_path / "pyanaconda" / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    name = choose_server()
    assert name == "org_ovirt_node.service.anaconda"
    # The glue cannot be imported here; it must still offer the main() run.
    path = os.path.join(ROOT, *name.split(".")) + ".py"
    with open(path, encoding="utf-8") as stream:
        tree = ast.parse(stream.read(), path)
    assert any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)
