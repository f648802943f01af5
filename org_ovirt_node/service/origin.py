"""Where the section text the boss hands over stands in the user's kickstart.

Anaconda's boss cuts each `%addon` section out of the kickstart file and sends
a module only that text (the header re-joined from its words, the body lines
verbatim, `%end`). Its kickstart manager maps every line of an add-on section
back to the `%addon` header line, and the installer shows only each report
entry's message text. So the exact line of a bad option reaches the user only
when the message itself names it ("line 8: unknown option --volum").

The module is not told the file. The boss's KickstartElement knows it and
the header's line (its `filename` and `lineno`), but ReadKickstart receives
only the element's text: the header words joined by single spaces, the body
lines and `%end`, with no file name and no line number (kickstart_manager.py
on Anaconda main, rhel-9 and rhel-10 alike). So the module finds the file
itself, first the way Anaconda does (startup_utils.find_kickstart): the
`--kickstart`/`--ks` argument of the running anaconda process, else
/run/install/ks.cfg, else its interactive-defaults.ks
(OVIRT_NODE_KICKSTART names one more first: tests, other installers). Then
any other file a running process names on its command line that holds an
`%addon` section: whoever asked the boss to read a kickstart (anaconda with
a path it was given, initial-setup, a script driving the boss) names it
there. A relative path is taken both from that process's working directory
and from ours, which is the boss's (the bus starts both; the boss opens the
path it is handed from there). The files those `%include` are searched
too. A section is located when exactly one place in those files holds its
header words followed by its body lines and `%end`; otherwise messages
count lines within the section, which is still exact.
"""

import os
import shlex

# Where dracut (inst.ks=...) and OEMDRV leave the kickstart Anaconda reads.
DEFAULT_KICKSTART = "/run/install/ks.cfg"
# What Anaconda reads when it is given no kickstart.
INTERACTIVE_DEFAULTS = "/usr/share/anaconda/interactive-defaults.ks"
# Files larger than this are not searched (a kickstart is a few KiB).
MAX_FILE_SIZE = 4 * 1024 * 1024
MAX_INCLUDE_FILES = 32


def kickstart_arguments(argv):
    """The kickstart paths an anaconda command line ARGV names: `--kickstart
    PATH` or `--kickstart=PATH`, and `--ks`, which takes no value and means
    /run/install/ks.cfg (pyanaconda.argument_parsing)."""
    paths = []
    for index, word in enumerate(argv):
        if word == "--kickstart" and index + 1 < len(argv):
            paths.append(argv[index + 1])
        elif word.startswith("--kickstart="):
            paths.append(word[len("--kickstart="):])
        elif word == "--ks":
            paths.append(DEFAULT_KICKSTART)
    return paths


def running_processes(proc="/proc"):
    """(command line, working directory or None) of every process we may
    read. Modules are not the installer's descendants (the bus daemon's
    activated services are reparented), so all of /proc is looked at."""
    found = []
    try:
        pids = [name for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return found
    for pid in pids:
        try:
            with open(f"{proc}/{pid}/cmdline", "rb") as stream:
                argv = [word.decode("utf-8", "surrogateescape")
                        for word in stream.read().split(b"\0") if word]
        except OSError:
            continue  # gone, or not ours to read
        try:
            cwd = os.readlink(f"{proc}/{pid}/cwd")
        except OSError:
            cwd = None
        found.append((argv, cwd))
    return found


def is_anaconda(argv):
    """Whether ARGV is the installer's UI process, which hands the boss the kickstart."""
    return any(os.path.basename(word) in ("anaconda", "anaconda.py") for word in argv[:4])


def anaconda_command_lines(proc="/proc"):
    """The command lines of the anaconda processes running."""
    return [argv for argv, _cwd in running_processes(proc) if is_anaconda(argv)]


def resolved(path, cwd):
    """PATH as the process in CWD meant it, and as the boss (in our working
    directory) opens it; an absolute PATH only once."""
    if os.path.isabs(path) or not cwd:
        return [path]
    return [os.path.join(cwd, path), path]


def holds_a_section(path):
    """Whether PATH is a small regular file with an %addon header (so a word
    on some command line is worth searching as a kickstart)."""
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > MAX_FILE_SIZE:
            return False
        with open(path, "rb") as stream:
            return b"%addon" in stream.read()
    except OSError:
        return False


def named_files(argv):
    """The words of ARGV that may be paths: each argument, and the value of
    each --option=value."""
    return [word.split("=", 1)[1] if word.startswith("--") and "=" in word else word
            for word in argv[1:] if not word.startswith("--") or "=" in word]


def candidate_files(environ=None, proc="/proc"):
    """Kickstart files the boss may be reading, most likely first."""
    environ = os.environ if environ is None else environ
    paths = []
    if environ.get("OVIRT_NODE_KICKSTART"):
        paths.append(environ["OVIRT_NODE_KICKSTART"])
    processes = running_processes(proc)
    for argv, cwd in processes:
        if is_anaconda(argv):
            paths.extend(path for word in kickstart_arguments(argv) for path in resolved(word, cwd))
    paths += [DEFAULT_KICKSTART, INTERACTIVE_DEFAULTS]
    for argv, cwd in processes:
        paths.extend(path for word in named_files(argv) for path in resolved(word, cwd)
                     if path not in paths and holds_a_section(path))
    return paths


def split_sections(text):
    """The sections in the module's TEXT: (first line of TEXT, header line,
    body lines), one per `%addon` ... `%end`. The boss writes the header as
    its words joined by single spaces."""
    sections = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        words = _words(lines[index])
        if words[:1] == ["%addon"]:
            start, body = index, []
            index += 1
            while index < len(lines) and _words(lines[index])[:1] != ["%end"]:
                body.append(lines[index])
                index += 1
            sections.append((start + 1, " ".join(words), body))
        index += 1
    return sections


def locate(text, files):
    """{first line of a section in TEXT: (file, its header line there)} for
    every section of TEXT found in exactly one place of FILES (and their
    %include files)."""
    contents = _read_all(files)
    found = {}
    for start, header, body in split_sections(text):
        places = [(path, number) for path, lines in contents.items()
                  for number in _matches(lines, header, body)]
        if len(places) == 1:
            found[start] = places[0]
    return found


def _matches(lines, header, body):
    """Line numbers (1-based) in LINES where HEADER, then BODY, then %end stand."""
    size = len(body)
    for index, line in enumerate(lines):
        if "%addon" not in line or " ".join(_words(line)) != header:
            continue
        if lines[index + 1:index + 1 + size] == body and index + 1 + size < len(lines) \
                and _words(lines[index + 1 + size])[:1] == ["%end"]:
            yield index + 1


def _read_all(files):
    """{real path: lines} of FILES and the files they %include."""
    contents = {}
    queue = list(files)
    while queue and len(contents) < MAX_INCLUDE_FILES:
        path = os.path.realpath(queue.pop(0))
        if path in contents:
            continue
        try:
            if not os.path.isfile(path) or os.path.getsize(path) > MAX_FILE_SIZE:
                continue
            with open(path, encoding="utf-8", errors="surrogateescape") as stream:
                lines = stream.read().split("\n")
        except OSError:
            continue
        contents[path] = lines
        for line in lines:
            words = _words(line)
            if len(words) == 2 and words[0] == "%include" and "://" not in words[1]:
                queue.append(os.path.join(os.path.dirname(path), words[1]))
    return contents


def _words(line):
    """The words pykickstart splits LINE into, or [] when it cannot."""
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        return []
