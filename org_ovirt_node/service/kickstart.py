"""Read the kickstart text Anaconda's boss hands the service.

The boss sends only the elements a module claims (here `%addon
org_ovirt_node`) and maps each reported line number back into the user's file
through a table keyed by lines of that text, so every message must name a line
that exists in the text: never 0, never a line of another file. Reading goes
through ks.reader, the same parser the CLI validator uses, so the service and
`ovirt-node ks validate` agree on every finding.
"""

import os
import tempfile

from org_ovirt_node.ks.reader import read_kickstart
from org_ovirt_node.ks.report import ERROR
from org_ovirt_node.service.structures import KickstartMessage, KickstartReport

# ks.reader reads files; the text is written to this name in a private directory.
_TEXT_NAME = "kickstart"


def read_kickstart_text(text):
    """Parse TEXT; return (NodeAddonData or None when the section is broken or
    absent, KickstartReport). Never raises: even a bug in the parser becomes
    an error entry, because an exception here would stop the installer."""
    try:
        return _read(text)
    except Exception as error:  # pylint: disable=broad-except
        report = KickstartReport()
        message = KickstartMessage()
        message.line_number = 1
        message.message = f"cannot read the kickstart ({type(error).__name__}: {error})"
        report.error_messages.append(message)
        return None, report


def _read(text):
    line_count = max(text.count("\n") + (not text.endswith("\n")), 1)
    with tempfile.TemporaryDirectory(prefix="ovirt-node-ks-") as directory:
        path = os.path.join(directory, _TEXT_NAME)
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as stream:
            stream.write(text)
        parsed = read_kickstart(path)
    report = KickstartReport()
    for finding in parsed.findings:
        message = KickstartMessage()
        in_text = finding.file == path and finding.line
        message.line_number = min(finding.line, line_count) if in_text else 1
        # Messages that name other lines say "file:line"; the file is ours, not the user's.
        text_of = finding.message.replace(f"{path}:", "line ")
        message.message = text_of if in_text else f"{finding.file}:{finding.line}: {text_of}"
        if finding.severity == ERROR:
            report.error_messages.append(message)
        else:
            report.warning_messages.append(message)
    addon = parsed.addon if parsed.addon.seen and not report.error_messages else None
    return addon, report
