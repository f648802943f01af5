"""Every test run ends with the time each VM test module took and the total.

Why: CI has 90 minutes on a 2-core machine and `make check` must stay at or
under 75; the VM stories dominate it, so their cost is printed on every run
(a module's time includes its shared fixture: the boots it runs once). Each
story's shared part is also printed as soon as it ends, with the run's clock,
so a run stopped from outside still shows where its time went.

`make check` runs in two phases (Makefile): the host tests on two
pytest-xdist workers, then the VM stories alone, one after the other, in
VM_ORDER. Never a VM beside other work: measured here, a TCG VM beside the
host tests or beside another VM ran two to four times slower, which cost
more than running them side by side gained. The Makefile's CHECK_STARTED
(epoch seconds) lets the last phase print the whole check's time.
"""

import os
import time
from collections import defaultdict

_VM_SECONDS = defaultdict(float)
_STARTED = []
_CONFIG = []
LONG_SECONDS = 60
VM_DIR = "tests/vm/"
# The VM modules in the order the VM phase runs them: the node story first
# (it builds the node images the lifecycle story also uses).
VM_ORDER = ["tests/vm/test_node_vm.py", "tests/vm/test_lifecycle_vm.py",
            "tests/vm/test_addon_vm.py", "tests/vm/test_install_vm.py"]


def pytest_configure(config):
    _CONFIG.append(config)


def pytest_sessionstart(session):          # pylint: disable=unused-argument
    _STARTED.append(time.monotonic())


def _rank(item):
    """The VM stories in VM_ORDER (any other VM test after them), then the host tests."""
    path = item.nodeid.split("::", 1)[0]
    if path in VM_ORDER:
        return VM_ORDER.index(path)
    return len(VM_ORDER) + (0 if path.startswith(VM_DIR) else 1)


def pytest_collection_modifyitems(items):
    items.sort(key=_rank)                  # stable: the rest keep their order


def pytest_runtest_logreport(report):
    if "vm" not in report.keywords:
        return
    _VM_SECONDS[report.nodeid.split("::", 1)[0]] += report.duration
    if report.duration >= LONG_SECONDS and _STARTED and _CONFIG:
        reporter = _CONFIG[0].pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(f"[{(time.monotonic() - _STARTED[0]) / 60:.1f} min] "
                                f"{report.nodeid} ({report.when}): "
                                f"{report.duration / 60:.1f} min")


def pytest_terminal_summary(terminalreporter):
    if not _STARTED:
        return
    write = terminalreporter.write_line
    terminalreporter.section("time")
    for module, seconds in sorted(_VM_SECONDS.items()):
        write(f"VM test {module}: {seconds / 60:.1f} min")
    total = time.monotonic() - _STARTED[0]
    write(f"VM tests together: {sum(_VM_SECONDS.values()) / 60:.1f} min; "
          f"this pytest run: {total / 60:.1f} min")
    check_started = os.environ.get("CHECK_STARTED", "")
    if check_started.isdigit():
        write(f"make check so far (both phases): {(time.time() - int(check_started)) / 60:.1f} min")
