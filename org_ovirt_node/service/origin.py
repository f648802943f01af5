"""Where the section text the boss hands over stands in the user's kickstart.

Anaconda's boss cuts each `%addon` section out of the kickstart file and sends
a module only that text (the header re-joined from its words, the body lines
verbatim, `%end`). Its kickstart manager maps every line of an add-on section
back to the `%addon` header line, and the installer shows only each report
entry's message text. So the exact line of a bad option reaches the user only
when the message itself names it ("line 8: unknown option --volum").

The module is not told the file. It finds it the way Anaconda does
(startup_utils.find_kickstart): the `--kickstart`/`--ks` argument of the
running anaconda process, else /run/install/ks.cfg, else its
interactive-defaults.ks, plus the files those `%include`
(OVIRT_NODE_KICKSTART names one more first: tests, other installers). A section is located when exactly one place in those files
holds its header words followed by its body lines and `%end`; otherwise
messages count lines within the section, which is still exact.
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


def anaconda_command_lines(proc="/proc"):
    """The command lines of the anaconda processes running (the installer's
    UI process, which hands the boss the kickstart). Modules are not its
    descendants: the bus daemon's activated services are reparented."""
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
        if any(os.path.basename(word) in ("anaconda", "anaconda.py") for word in argv[:4]):
            found.append(argv)
    return found


def candidate_files(environ=None):
    """Kickstart files Anaconda may be reading, most likely first."""
    environ = os.environ if environ is None else environ
    paths = []
    if environ.get("OVIRT_NODE_KICKSTART"):
        paths.append(environ["OVIRT_NODE_KICKSTART"])
    for argv in anaconda_command_lines():
        paths.extend(kickstart_arguments(argv))
    paths += [DEFAULT_KICKSTART, INTERACTIVE_DEFAULTS]
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
