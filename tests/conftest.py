"""Every test run ends with the time each VM test module took and the total.

Why: CI has 90 minutes on a 2-core machine and `make check` must stay at or
under 75; the VM stories dominate it, so their cost is printed on every run
(a module's time includes its shared fixture: the boots it runs once).
"""

import time
from collections import defaultdict

_VM_SECONDS = defaultdict(float)
_STARTED = []


def pytest_sessionstart(session):          # pylint: disable=unused-argument
    _STARTED.append(time.monotonic())


def pytest_runtest_logreport(report):
    if "vm" in report.keywords:
        _VM_SECONDS[report.nodeid.split("::", 1)[0]] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _STARTED:
        return
    write = terminalreporter.write_line
    terminalreporter.section("time")
    for module, seconds in sorted(_VM_SECONDS.items()):
        write(f"VM test {module}: {seconds / 60:.1f} min")
    total = time.monotonic() - _STARTED[0]
    write(f"VM tests together: {sum(_VM_SECONDS.values()) / 60:.1f} min; "
          f"whole run: {total / 60:.1f} min")
