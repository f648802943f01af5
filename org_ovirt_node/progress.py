"""One progress reporter for every door onto the engine.

Long work (unpacking an image, creating a layout) reports named steps and byte
counts through a Reporter. The CLI shows them as text for people or as JSON
lines for machines (`--json`); the D-Bus install task forwards them as task
progress. The engine never prints by itself.
"""

import json
import sys
import time

from org_ovirt_node.sizes import format_size


class Reporter:
    """Receives progress; the base class drops everything (quiet runs, tests)."""

    def step(self, name, message):
        """A named step of the pipeline starts."""

    def progress(self, step, done, total):
        """DONE of TOTAL bytes of STEP are finished."""

    def info(self, message):
        """A fact worth telling that is not a step."""

    def warning(self, message):
        """Something the user should know; the work goes on."""


class TextReporter(Reporter):
    """Human progress on a stream: steps as lines, bytes as a live percentage.

    On a terminal the byte count rewrites one line; elsewhere (logs, CI) it
    prints a line every 10 percent so logs stay short.
    """

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.is_tty = self.stream.isatty()
        self._last_tenth = None
        self._last_draw = 0.0

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()

    def step(self, name, message):
        self._last_tenth = None
        self._write(f"==> {message}\n")

    def progress(self, step, done, total):
        percent = 100 * done // total if total else 100
        line = f"    {format_size(done)} of {format_size(total)} ({percent}%)"
        if self.is_tty:
            now = time.monotonic()
            if done >= total or now - self._last_draw > 0.2:
                self._last_draw = now
                self._write("\r" + line.ljust(50) + ("\n" if done >= total else ""))
            return
        tenth = percent // 10
        if tenth != self._last_tenth:
            self._last_tenth = tenth
            self._write(line + "\n")

    def info(self, message):
        self._write(f"    {message}\n")

    def warning(self, message):
        self._write(f"warning: {message}\n")


class JsonReporter(Reporter):
    """Progress as JSON lines ({"event": ...}) on a stream, for machines."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self._last_percent = None

    def emit(self, event, **fields):
        """Write one JSON event line."""
        self.stream.write(json.dumps({"event": event, **fields}, sort_keys=True) + "\n")
        self.stream.flush()

    def step(self, name, message):
        self._last_percent = None
        self.emit("step", step=name, message=message)

    def progress(self, step, done, total):
        percent = 100 * done // total if total else 100
        if percent != self._last_percent:
            self._last_percent = percent
            self.emit("progress", step=step, done=done, total=total, percent=percent)

    def info(self, message):
        self.emit("info", message=message)

    def warning(self, message):
        self.emit("warning", message=message)


class RecordingReporter(Reporter):
    """Keeps every event in a list; used by the D-Bus task bridge and by tests."""

    def __init__(self):
        self.events = []

    def step(self, name, message):
        self.events.append(("step", name, message))

    def progress(self, step, done, total):
        self.events.append(("progress", step, done, total))

    def info(self, message):
        self.events.append(("info", message))

    def warning(self, message):
        self.events.append(("warning", message))
