"""Run the add-on service: what Anaconda's start-module starts (see data/).

Inside the installer pyanaconda is importable and the module is built on
Anaconda's KickstartService (service.anaconda); anywhere else the same
protocol is served with dasbus alone (service.server).
"""

import importlib
import importlib.util
import sys


def choose_server():
    """The name of the module whose main() serves in this process: a name,
    not the module, because importing the glue already sets Anaconda up."""
    if importlib.util.find_spec("pyanaconda") is None:
        return "org_ovirt_node.service.server"
    return "org_ovirt_node.service.anaconda"


if __name__ == "__main__":
    sys.exit(importlib.import_module(choose_server()).main())
