"""Fuzz the CLI (issue 9, section 4): hypothesis draws command lines from the
real argparse parsers (every subcommand's own option names, nothing listed by
hand) and fills them with hostile values: FIFOs, devices, /proc, planted
symlinks, folders, line breaks, undecodable bytes, huge numbers, LVM's
reserved names. Every run must end with an exit status and at most one error
line: no traceback, no "internal error", no signal, no hang, and nothing
written outside the scratch folder.

Commands that act on the host's own node (update, rollback, gc, pin, unpin,
boot-ok, and health, redboot and finalize, which the node's units run) are
left out, and install always gets --dry-run: the fuzzer must never be able
to change this machine. OVIRT_NODE_FUZZ_EXAMPLES sets the
number of cases (default 300); the run is derandomised, so `make check` is
repeatable.
"""

import argparse
import contextlib
import io
import os
import signal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from org_ovirt_node.cli.main import build_parser, main

EXAMPLES = int(os.environ.get("OVIRT_NODE_FUZZ_EXAMPLES", "300"))
HOST_CHANGING = {"update", "rollback", "gc", "pin", "unpin", "kargs", "boot-ok", "health",
                 "redboot", "finalize"}
CASE_TIMEOUT = 60


def _leaf_commands(parser, path=()):
    """(command words, parser) for every runnable subcommand of PARSER."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, sub in subs[0].choices.items():
        yield from _leaf_commands(sub, path + (name,))


def _commands():
    commands = []
    for path, parser in _leaf_commands(build_parser()):
        if path[0] in HOST_CHANGING:
            continue
        options, positionals = [], []
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                continue
            if action.option_strings:
                options.append(action)
            else:
                positionals.append(action)
        commands.append((path, options, positionals))
    return commands


COMMANDS = _commands()


class _Hang(BaseException):
    """A case ran longer than CASE_TIMEOUT (main() catches Exceptions, not this)."""


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """The scratch folder: every hostile file the values point at lives here."""
    root = tmp_path_factory.mktemp("fuzz")
    outside = tmp_path_factory.mktemp("outside")
    victim = outside / "victim"
    victim.write_text("precious\n")
    work = root / "work"
    work.mkdir()
    os.mkfifo(work / "fifo")
    os.symlink(victim, work / "link-out")
    os.symlink(outside, work / "dir-out")
    (work / "dir").mkdir()
    (work / "empty").write_bytes(b"")
    (work / "binary").write_bytes(bytes(range(256)) * 4)
    (work / "hosts.yaml").write_text("hosts:\n  - {hostname: a, hostname: b}\n")
    (work / "deep.yaml").write_text("[" * 5000 + "]" * 5000)
    (work / "ks.ks").write_bytes(b"liveimg --url='unbalanced\n%addon org_ovirt_node\n\xff\n")
    with open(os.fsencode(work) + b"/caf\xe9", "wb") as stream:
        stream.write(b"x")
    return {"work": work, "outside": outside, "victim": victim}


def _values(work):
    files = ["fifo", "link-out", "dir-out", "dir", "empty", "binary", "hosts.yaml",
             "deep.yaml", "ks.ks", os.fsdecode(b"caf\xe9"), "new-out", "dir-out/escape",
             "link-out/x"]
    fixed = [
        "", "-", "--", " ", "\n", "a\nb", "\x00", "\x1b[2J", "\udcff", "x" * 300,
        "/dev/zero", "/dev/null", "/proc/self/status", "/proc/out", "/sys/kernel", "/",
        "../escape", "..", ".", "%s%n", "{{ 7*7 }}", "$(touch pwned)", "'; rm -rf /'",
        "-1", "0", "99999999999999999999", "1e999", "NaN", "16GiB\n", "8EiB", "9" * 40 + "TiB",
        "snapshot", "pool_tmeta", "x_rimage", "-onn", "a" + "-" * 63, "/var//log:1G",
        "/boot/x:1G", "/var:1\n", "/var/../etc:1G", "http://h/x\nkernel evil",
        "http://h/x y", "hd:LABEL=X:/a\n", "RHEL9", "F99", "node-1.0-1", "-node-1-1",
        "node-1.0-1\n", "minimal.ks",
    ]
    return st.one_of(st.sampled_from(fixed), st.sampled_from(files),
                     st.text(max_size=12),
                     st.sampled_from(files).map(lambda name: str(work / name)))


def _argv(draw, work):
    path, options, positionals = draw(st.sampled_from(COMMANDS))
    argv = list(path)
    values = _values(work)
    chosen = draw(st.lists(st.sampled_from(options), max_size=6)) if options else []
    # required options mostly present, so runs get past argparse into the engine
    chosen += [action for action in options if action.required and draw(st.booleans())]
    for action in chosen:
        argv.append(draw(st.sampled_from(action.option_strings)))
        if action.nargs == 0:
            continue
        count = action.nargs if isinstance(action.nargs, int) else 1
        for _ in range(count):
            if action.choices and draw(st.booleans()):
                argv.append(str(draw(st.sampled_from(sorted(action.choices)))))
            else:
                argv.append(draw(values))
    for action in positionals:
        count = action.nargs if isinstance(action.nargs, int) else 1
        argv += [draw(values) for _ in range(count)]
    if path[0] == "install":
        argv.append("--dry-run")
    return argv


@st.composite
def command_lines(draw, work):
    """One command line of a real subcommand with hostile values."""
    return _argv(draw, work)


def _tree(folder):
    return sorted(os.listdir(folder))


def _alarm(_signum, _frame):
    raise _Hang()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_cli_survives_hostile_command_lines(data, scratch, monkeypatch):
    work, outside, victim = scratch["work"], scratch["outside"], scratch["victim"]
    argv = data.draw(command_lines(work))
    monkeypatch.chdir(work)
    outside_before, tmp_before = _tree(outside), set(os.listdir("/tmp"))
    err, out = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_TIMEOUT)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(argv)
            except SystemExit as stop:   # argparse's usage errors and --help
                code = stop.code
    except _Hang:
        pytest.fail(f"no answer within {CASE_TIMEOUT} s: {argv!r}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    text = err.getvalue()
    assert isinstance(code, int) and 0 <= code < 128, (argv, code, text)
    assert "Traceback" not in text and "internal error" not in text, (argv, text)
    assert text.count("ovirt-node: error:") <= 1, (argv, text)
    assert victim.read_text() == "precious\n", argv
    assert _tree(outside) == outside_before, argv
    # /tmp is shared with other processes: temporaries this one made carry its pid
    leftovers = {name for name in set(os.listdir("/tmp")) - tmp_before
                 if f"-{os.getpid()}-" in name}
    assert not leftovers, (argv, leftovers)
