"""A long piece of work as an Anaconda task: a D-Bus object the boss starts,
watches and finishes.

The work is a tasks.Work whose function takes a progress Reporter, the same
reporter the CLI gives the engine, so a task is only a door onto the engine.
It runs in a thread; every signal is emitted from the main loop, in order:
Started, any ProgressChanged, then Failed or Succeeded (neither when
cancelled), Stopped. Failed carries no arguments, as in Anaconda, so a last
ProgressChanged tells the reason ("Failed: ..." or "Cancelled") and Finish
raises a failure as a NodeError.

TaskReporter and run_work need only step_names, cancel_requested, progress and
report(step, message) of their task, so the Anaconda glue's Task runs the same
work the same way.
"""

import threading

from dasbus.server.interface import dbus_interface, dbus_signal
from dasbus.server.publishable import Publishable
from dasbus.server.template import InterfaceTemplate
from dasbus.signal import Signal
from dasbus.typing import Bool, Int, Str, Tuple, Variant
from gi.repository import GLib

from org_ovirt_node import dbus_ids
from org_ovirt_node.errors import NodeError
from org_ovirt_node.progress import Reporter
from org_ovirt_node.service.bus import NoResultError


class TaskCancelled(Exception):
    """Raised inside the work at its next progress report after Cancel."""


class TaskReporter(Reporter):
    """Turns engine progress into task steps; the place cancellation bites."""

    def __init__(self, task):
        self._task = task
        self._step = 0
        self._message = ""
        self._percent = None

    def step(self, name, message):
        self._check()
        names = self._task.step_names
        self._step = names.index(name) + 1 if name in names else self._step
        self._message, self._percent = message, None
        self._task.report(self._step, message)

    def progress(self, step, done, total):
        self._check()
        percent = 100 * done // total if total else 100
        if percent != self._percent:
            self._percent = percent
            self._task.report(self._step, f"{self._message} ({percent}%)")

    def info(self, message):
        self._check()
        self._task.report(self._step, message)

    def warning(self, message):
        self._task.report(self._step, f"warning: {message}")

    def _check(self):
        if self._task.cancel_requested:
            raise TaskCancelled()


def run_work(task, work):
    """Run WORK(reporter) for TASK; return the NodeError it failed with, or
    None when it succeeded or was cancelled. Either end is told as the last
    progress; a bug becomes a NodeError, because it must still end the task
    rather than hang the installer."""
    try:
        work(TaskReporter(task))
    except TaskCancelled:
        task.report(task.progress[0], "Cancelled")
        return None
    except NodeError as error:
        failure = error
    except Exception as error:  # pylint: disable=broad-except
        failure = NodeError(f"unexpected {type(error).__name__}: {error}")
    else:
        return None
    task.report(task.progress[0], f"Failed: {failure}")
    return failure


class NodeTask(Publishable):
    """Runs a tasks.Work in a thread, published with TaskInterface."""

    def __init__(self, work):
        self.name = work.name
        self.step_names = tuple(work.step_names)
        self._work = work.run
        self.progress = (0, "")
        self.is_running = False
        self.cancel_requested = False
        self._started = False
        self._error = None
        self.progress_changed_signal = Signal()
        self.started_signal = Signal()
        self.stopped_signal = Signal()
        self.failed_signal = Signal()
        self.succeeded_signal = Signal()

    @property
    def steps(self):
        """Total number of steps."""
        return len(self.step_names)

    def for_publication(self):
        return TaskInterface(self)

    def start(self):
        """Run the work in a new thread; a task runs once."""
        if self._started:
            raise NodeError(f"task '{self.name}' was already started")
        self._started = True
        self.is_running = True
        self._emit(self.started_signal.emit)
        threading.Thread(target=self._run, name=self.name, daemon=True).start()

    def cancel(self):
        """Ask the work to stop at its next progress report."""
        self.cancel_requested = True

    def finish(self):
        """Raise the reason the task failed, if it did."""
        if self.is_running:
            raise NodeError(f"task '{self.name}' is still running")
        if self._error:
            raise self._error

    def get_result(self):
        """The node's tasks only act; like Anaconda's Task without a result,
        asking for one raises NoResultError."""
        raise NoResultError(f"task '{self.name}' provides no result")

    def report(self, step, message):
        """Record and announce progress (any thread)."""
        self.progress = (step, message)
        self._emit(self.progress_changed_signal.emit, step, message)

    def _run(self):
        self._error = run_work(self, self._work)
        if self._error:
            outcome = self.failed_signal
        else:
            outcome = None if self.cancel_requested else self.succeeded_signal
        if outcome:
            self._emit(outcome.emit)
        self._emit(self._stopped)

    def _stopped(self):
        self.is_running = False
        self.stopped_signal.emit()

    @staticmethod
    def _emit(function, *args):
        def once():
            function(*args)
            return GLib.SOURCE_REMOVE
        GLib.idle_add(once)


@dbus_interface(dbus_ids.TASK_INTERFACE)
class TaskInterface(InterfaceTemplate):
    """The D-Bus face of a NodeTask, member for member Anaconda's Task."""

    def connect_signals(self):
        self.implementation.progress_changed_signal.connect(self.ProgressChanged)
        self.implementation.started_signal.connect(self.Started)
        self.implementation.stopped_signal.connect(self.Stopped)
        self.implementation.failed_signal.connect(self.Failed)
        self.implementation.succeeded_signal.connect(self.Succeeded)

    @property
    def Name(self) -> Str:
        """What the task does, for people."""
        return self.implementation.name

    @property
    def Progress(self) -> Tuple[Int, Str]:
        """The current step and its message."""
        return self.implementation.progress

    @dbus_signal
    def ProgressChanged(self, step: Int, message: Str):
        """The task reached STEP (of Steps) doing MESSAGE."""

    @property
    def Steps(self) -> Int:
        """Total number of steps."""
        return self.implementation.steps

    @property
    def IsRunning(self) -> Bool:
        """True between Start and Stopped."""
        return self.implementation.is_running

    @dbus_signal
    def Started(self):
        """The task started."""

    @dbus_signal
    def Stopped(self):
        """The task stopped (after Failed or Succeeded, or cancelled)."""

    @dbus_signal
    def Failed(self):
        """The task failed; Finish raises the reason."""

    @dbus_signal
    def Succeeded(self):
        """The task did its work."""

    def Start(self):
        """Run the task."""
        self.implementation.start()

    def Cancel(self):
        """Stop the task at its next progress report."""
        self.implementation.cancel()

    def Finish(self):
        """Raise the failure of a stopped task, if any."""
        self.implementation.finish()

    def GetResult(self) -> Variant:
        """The task's result; none of the node's tasks has one (NoResultError)."""
        return self.implementation.get_result()
