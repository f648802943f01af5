"""Read the kickstart text Anaconda's boss hands the service.

The boss sends only the elements a module claims (here `%addon
org_ovirt_node`) and maps each reported line number back into the user's file
through a table keyed by lines of that text, so every entry's line_number
must name a line that exists in the text: never 0, never a line of another
file. That table maps every line of an add-on section to its header line, and
the installer shows only the message text, so each message also names its
exact line itself: the line in the user's file when the section is found
there (service.origin), else the line within the section. Reading goes
through ks.reader, the same parser the CLI validator uses, so the service and
`ovirt-node ks validate` agree on every finding.
"""

import os
import re
import tempfile

from org_ovirt_node.ks.reader import read_kickstart
from org_ovirt_node.ks.report import ERROR
from org_ovirt_node.ks.section import ADDON_NAME
from org_ovirt_node.service.origin import candidate_files, locate, split_sections
from org_ovirt_node.service.structures import KickstartMessage, KickstartReport

# ks.reader reads files; the text is written to this name in a private directory.
_TEXT_NAME = "kickstart"


def read_kickstart_text(text, files=None):
    """Parse TEXT; return (NodeAddonData or None when the section is broken or
    absent, KickstartReport). FILES are the kickstart files the text may come
    from (default: origin.candidate_files()). Never raises: even a bug in the
    parser becomes an error entry, because an exception here would stop the
    installer."""
    try:
        return _read(text, candidate_files() if files is None else files)
    except Exception as error:  # pylint: disable=broad-except
        report = KickstartReport()
        message = KickstartMessage()
        message.line_number = 1
        message.message = f"cannot read the kickstart ({type(error).__name__}: {error})"
        report.error_messages.append(message)
        return None, report


class LineNames:
    """How messages name a line of the module's text: "line 8" (the line in
    the user's file), "line 8 of /path" (in a file it includes), or "line 3 of
    the %addon org_ovirt_node section" when the section was not found."""

    def __init__(self, text, files):
        self._sections = [start for start, _header, _body in split_sections(text)]
        self._places = locate(text, files)
        self._roots = {os.path.realpath(path) for path in files}

    def name(self, line):
        """How to name LINE of the text."""
        starts = [start for start in self._sections if start <= line]
        if not starts:
            return f"line {line}"
        start = starts[-1]
        if start not in self._places:
            return f"line {line - start + 1} of the %addon {ADDON_NAME} section"
        path, header = self._places[start]
        in_file = "" if path in self._roots else f" of {path}"
        return f"line {header + line - start}{in_file}"

    def rewrite(self, message):
        """MESSAGE with every "line N" of the text named as name(N)."""
        return re.sub(r"\bline (\d+)\b", lambda match: self.name(int(match[1])), message)


def anaconda_numbering(text):
    """{line number Anaconda's parser gives: line of TEXT} for the %addon
    sections of TEXT. Anaconda's AddonSection numbers a body line as the
    header's line plus the count of body lines handled so far, and blank and
    comment lines are never handled, so after one its numbers fall behind."""
    numbering = {}
    for start, _header, body in split_sections(text):
        number = numbering[start] = start
        for offset, line in enumerate(body, 1):
            if line.strip() and not line.lstrip().startswith("#"):
                number += 1
                numbering[number] = start + offset
    return numbering


def name_anaconda_lines(text, messages, files=None):
    """For the Anaconda glue: put the true line of TEXT in each of MESSAGES
    (KickstartMessages from Anaconda's parser, numbered as it numbers them)
    and prefix its text with that line's name, naming the lines it mentions
    the same way."""
    numbering = anaconda_numbering(text)
    names = LineNames(text, candidate_files() if files is None else files)

    def name(match):
        return names.name(numbering.get(int(match[1]), int(match[1])))

    for message in messages:
        text_of = re.sub(r"\bline (\d+)\b", name, message.message)
        if message.line_number:
            message.line_number = numbering.get(message.line_number, message.line_number)
            text_of = f"{names.name(message.line_number)}: {text_of}"
        message.message = text_of


def _read(text, files):
    line_count = max(text.count("\n") + (not text.endswith("\n")), 1)
    with tempfile.TemporaryDirectory(prefix="ovirt-node-ks-") as directory:
        path = os.path.join(directory, _TEXT_NAME)
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as stream:
            stream.write(text)
        parsed = read_kickstart(path)
    names = LineNames(text, files)
    report = KickstartReport()
    for finding in parsed.findings:
        message = KickstartMessage()
        in_text = finding.file == path and finding.line
        message.line_number = min(finding.line, line_count) if in_text else 1
        # Messages that name other lines say "file:line"; the file is ours, not the user's.
        text_of = names.rewrite(finding.message.replace(f"{path}:", "line "))
        message.message = (f"{names.name(message.line_number)}: {text_of}" if in_text
                           else f"{finding.file}:{finding.line}: {text_of}")
        if finding.severity == ERROR:
            report.error_messages.append(message)
        else:
            report.warning_messages.append(message)
    addon = parsed.addon if parsed.addon.seen and not report.error_messages else None
    return addon, report
