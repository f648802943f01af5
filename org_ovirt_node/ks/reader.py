"""Parse a whole kickstart with pykickstart plus our section, collecting every
problem with its line instead of stopping at the first.

pykickstart alone prints non-fatal errors to stderr, ignores every `%addon`,
and aborts with a traceback-worthy exception on some bad lines. This wraps its
KickstartParser so that each error and warning becomes a Finding at the exact
file and line, `%addon org_ovirt_node` is parsed by NodeAddonData, and a
misspelled add-on name is an error rather than silently ignored.

Two private pykickstart methods are used because no public hook exists:
`_tryFunc` (where it swallows per-command errors) and `_stateMachine` (to feed
lines through an iterator that knows the current line number). While it runs,
pykickstart's parser splits lines with ks.words.split, which finds the same
words in linear time.

Every command whose line pykickstart rejects is remembered (`failed`): its
object may still say `seen` with default values, and the node rules must not
reason from those (an `autopart --type=thinp --bogus` line is not a
non-thin autopart).
"""

import difflib
import re
import warnings
from dataclasses import dataclass

from pykickstart import parser as _pykickstart_parser
from pykickstart.errors import KickstartError
from pykickstart.parser import KickstartParser, PutBackIterator
from pykickstart.sections import PackageSection, Section

from org_ovirt_node.ks import DEFAULT_VERSION
from org_ovirt_node.ks.report import ERROR, WARNING
from org_ovirt_node.ks.section import ADDON_NAME, NodeAddonData
from org_ovirt_node.ks.source import read_source
from org_ovirt_node.ks.versions import handler_for, last_with
from org_ovirt_node.ks.words import linear_split_in

# Add-ons Anaconda commonly ships; other names get a warning, names close to
# ours an error.
KNOWN_ADDONS = ("com_redhat_kdump", "com_redhat_oscap", "org_fedora_oscap",
                "org_fedora_hello_world")
_LINE_PHRASE = re.compile(r"\s*(?:on|at) line (\d+)")
_REMOVED = re.compile(r"(\S+) has been removed\.")
_UNKNOWN_SECTION = re.compile(r"Potentially unknown section seen at line \d+: (\S+)")


@dataclass
class ParsedKickstart:
    """The outcome of reading one kickstart: pykickstart's handler, our section,
    where %packages starts (expanded line numbers), and the findings so far."""

    source: object
    handler: object
    addon: NodeAddonData
    packages_line: object
    findings: list
    complete: bool
    failed: dict  # command name (ADDON_NAME: our section) -> first line rejected


class _Lines(PutBackIterator):
    """The expanded lines, counting how many the parser has consumed."""

    def __init__(self, lines):
        super().__init__(list(lines) + [""])
        self.position = 0

    def next(self):
        line = super().next()
        self.position += 1
        return line

    def put(self, s):
        super().put(s)
        if s:
            self.position -= 1


class _AddonSection(Section):
    """Every `%addon`: ours goes to NodeAddonData, others are checked by name."""

    sectionOpen = "%addon"
    allLines = True

    def __init__(self, handler, reader):
        super().__init__(handler)
        self.reader = reader
        self.target = None
        self.line = 0
        self.failed = False

    def handleHeader(self, lineno, args):
        super().handleHeader(lineno, args)
        self.target, self.line, self.failed = None, lineno, False
        name = args[1] if len(args) > 1 else ""
        addon = self.reader.addon
        if name == ADDON_NAME:
            if addon.seen:
                self.reader.report(ERROR, lineno, f"%addon {ADDON_NAME} appears twice "
                                   f"(first on {self.reader.line_name(addon.header_line)})")
                return
            self.target = addon
            self._call(lambda: addon.handle_header(args[2:], lineno), lineno)
        elif not name:
            self.reader.report(ERROR, lineno, "%addon needs an add-on name")
        elif difflib.get_close_matches(name, [ADDON_NAME], n=1, cutoff=0.75):
            self.reader.failed.setdefault(ADDON_NAME, lineno)  # meant as ours: values unknown
            self.reader.report(ERROR, lineno, f"unknown add-on '{name}'; did you mean "
                               f"{ADDON_NAME}? (Anaconda would silently ignore it)")
        elif name not in KNOWN_ADDONS:
            self.reader.report(WARNING, lineno, f"add-on '{name}' is not checked here; "
                               "Anaconda ignores add-ons it does not have")

    def handleLine(self, line):
        self.line += 1
        if self.target:
            line_number = self.line
            self._call(lambda: self.target.handle_line(line, line_number), line_number)

    def finalize(self):
        if self.target:
            target, failed = self.target, self.failed
            self.target = None
            try:
                target.handle_end()
            except KickstartError as error:
                self.reader.failed.setdefault(ADDON_NAME, error.lineno)
                if not failed:  # a broken header already explains a missing --image
                    self.reader.report(ERROR, error.lineno, error.message)

    def _call(self, function, line_number):
        try:
            function()
        except KickstartError as error:
            self.failed = True
            self.reader.failed.setdefault(ADDON_NAME, error.lineno or line_number)
            self.reader.report(ERROR, error.lineno or line_number, error.message)


class _PackageSection(PackageSection):
    """pykickstart's %packages, remembering the line it opened on."""

    lineno = None

    def handleHeader(self, lineno, args):
        self.lineno = lineno
        super().handleHeader(lineno, args)


class _Parser(KickstartParser):
    def __init__(self, handler, reader):
        self.reader = reader
        super().__init__(handler, followIncludes=False, errorsAreFatal=False,
                         unknownSectionIsFatal=False)

    def setupSections(self):
        super().setupSections()
        self.registerSection(_AddonSection(self.handler, self.reader))
        self.packages = _PackageSection(self.handler)
        self.registerSection(self.packages)

    def _tryFunc(self, fn):
        try:
            fn()
        except KickstartError as error:
            self.errorsCount += 1
            self.reader.report(ERROR, error.lineno, self._explained(error.message), failed=True)
        except Exception as error:  # pylint: disable=broad-except
            # a stock command choking on odd input is still just a bad line
            self.errorsCount += 1
            self.reader.report(ERROR, None, f"cannot parse this line ({error})", failed=True)


    def _explained(self, message):
        """MESSAGE, and for a removed command the last version that had it."""
        removed = _REMOVED.fullmatch(str(message or ""))
        older = removed and last_with(removed.group(1), self.handler.version)
        if not older:
            return message
        return (f"{message} It was still valid in {older}: check a kickstart written for "
                f"that installer with --version {older}")


class _Reader:
    """Collects findings in expanded line numbers while pykickstart runs."""

    def __init__(self, source):
        self.source = source
        self.addon = NodeAddonData()
        self.addon.line_name = self.line_name
        self.lines = _Lines(source.lines)
        self.findings = list(source.findings)
        self.failed = {}

    def line_name(self, line):
        """How a message refers to expanded LINE: 'file:line'."""
        return "{}:{}".format(*self.source.where(line))

    def report(self, severity, line, message, failed=False):
        """Add a finding at expanded LINE (default: the line being parsed);
        FAILED: pykickstart rejected that line's command."""
        line = line or self.lines.position or 1
        text = " ".join(str(message or "syntax error").split())
        self.findings.append(self.source.finding(severity, line, text))
        if failed:
            words = self.source.lines[line - 1].split(None, 1) if line <= len(self.source.lines) else []
            self.failed.setdefault(words[0] if words else "", line)

    def warn(self, message, *_args, **_kwargs):
        text = str(message)
        unknown = _UNKNOWN_SECTION.search(text)
        if unknown:
            self.report(ERROR, None, f"unknown kickstart section {unknown.group(1)}")
            return
        match = _LINE_PHRASE.search(text)
        line = int(match.group(1)) if match else None
        self.report(WARNING, line, _LINE_PHRASE.sub("", text))


def read_kickstart(path, version=DEFAULT_VERSION):
    """Parse the kickstart at PATH (includes expanded) for VERSION.

    Never raises for bad content: problems come back as findings. NodeError
    only for an unknown VERSION.
    """
    handler = handler_for(version)
    source = read_source(path)
    reader = _Reader(source)
    parser = _Parser(handler, reader)
    complete = True
    with warnings.catch_warnings(), linear_split_in(_pykickstart_parser):
        warnings.simplefilter("always")
        warnings.showwarning = reader.warn
        try:
            parser._stateMachine(reader.lines)  # pylint: disable=protected-access
        except KickstartError as error:
            reader.report(ERROR, error.lineno, error.message, failed=True)
            complete = False
        except Exception as error:  # pylint: disable=broad-except
            reader.report(ERROR, None, f"cannot parse this line ({error})", failed=True)
            complete = False
    return ParsedKickstart(source, handler, reader.addon, parser.packages.lineno,
                           reader.findings, complete, reader.failed)

