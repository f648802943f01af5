"""Read a kickstart and the files it %includes into one list of lines that
remembers where each line came from.

pykickstart numbers lines per file and reports a missing %include without a
line; expanding includes here first gives every later message an exact
`file:line`, lets a missing include be a warning (it is often written by %pre
at install time) and catches include loops.
"""

import os
from dataclasses import dataclass, field

from org_ovirt_node.errors import NodeError
from org_ovirt_node.ks.report import ERROR, WARNING, Finding
from org_ovirt_node.ks.words import split
from org_ovirt_node.util.safeio import read_bytes

MAX_INCLUDE_DEPTH = 16
# Characters str.splitlines() would treat as line breaks; folded to spaces so
# our line numbers agree with editors, which break lines only at "\n".
# NUL too: pykickstart cannot take it.
_OTHER_BREAKS = {ord(c): " " for c in "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00"}


@dataclass
class Source:
    """Lines of a kickstart with its includes expanded.

    lines[i] came from origins[i] = (file, line). An %include line stays as a
    blank line, followed by the included file's lines.
    """

    lines: list = field(default_factory=list)
    origins: list = field(default_factory=list)
    findings: list = field(default_factory=list)
    unread_includes: int = 0  # %include targets not found here: content unknown

    def where(self, line):
        """(file, line) of expanded LINE (1-based); past the end: the last line."""
        if not self.origins:
            return ("<empty>", 1)
        return self.origins[min(max(line, 1), len(self.origins)) - 1]

    def finding(self, severity, line, message):
        """A Finding at expanded LINE, told in the original file's terms."""
        file, file_line = self.where(line)
        return Finding(severity, file, file_line, message)


_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _decode_lines(path, data, findings):
    if data.startswith(_UTF16_BOMS):
        findings.append(Finding(ERROR, path, 1, "the file is UTF-16 text; Anaconda reads "
                                "kickstarts as UTF-8: save it as UTF-8"))
        return []
    if data.startswith(_UTF8_BOM):
        # One error, then read on without it: Anaconda would take the mark as
        # part of the first command, and every later message would follow from that.
        findings.append(Finding(ERROR, path, 1, "the file starts with a UTF-8 byte order "
                                "mark (BOM), which Anaconda reads as part of the first "
                                "command: save it without the BOM"))
        data = data[len(_UTF8_BOM):]
    try:
        texts = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:  # line by line, to name every bad line
        texts = []
        for number, raw in enumerate(data.split(b"\n"), 1):
            try:
                texts.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                findings.append(Finding(ERROR, path, number, "line is not UTF-8 text"))
                texts.append(raw.decode("utf-8", errors="replace"))
    if len(texts) > 1 and data.endswith(b"\n"):
        texts.pop()
    # One pass over the whole text, not one per line: the same result, faster.
    cleaned = "\n".join(text.rstrip("\r") for text in texts).translate(_OTHER_BREAKS)
    return [line + "\n" for line in cleaned.split("\n")]


def _include_target(line):
    if "%include" not in line:
        return None
    words = line.split(None, 1)
    if not words or words[0] != "%include":
        return None
    try:
        words = split(line, comments=True)
    except ValueError:
        pass
    return words[1] if len(words) > 1 else ""


def read_source(path):
    """Expand PATH and its includes; a top file that cannot be read is an error finding."""
    source = Source()
    _expand(path, source, stack=[])
    return source


def _expand(path, source, stack):
    try:  # a FIFO, device or folder is refused at once; a huge file is not read whole
        data = read_bytes(path, "kickstart")
    except NodeError as error:
        message = error.message.removeprefix(f"{path}: ")
        source.findings.append(Finding(ERROR, path, None, f"cannot read: {message}"))
        return
    stack.append(os.path.realpath(path))
    for number, line in enumerate(_decode_lines(path, data, source.findings), 1):
        target = _include_target(line)
        source.lines.append("\n" if target is not None else line)
        source.origins.append((path, number))
        if target is None:
            continue
        if not target:
            source.findings.append(Finding(ERROR, path, number, "%include names no file"))
            continue
        # Relative to the including file, never to where the validator runs.
        resolved = os.path.join(os.path.dirname(path), target)
        if not os.path.isfile(resolved):
            source.unread_includes += 1
            source.findings.append(Finding(
                WARNING, path, number,
                f"cannot follow %include {target}: not found here (written by %pre at "
                "install time?); its content is not checked"))
        elif os.path.realpath(resolved) in stack:
            source.findings.append(Finding(ERROR, path, number, f"%include {target} includes itself"))
        elif len(stack) >= MAX_INCLUDE_DEPTH:
            source.findings.append(Finding(ERROR, path, number,
                                           f"%include nested deeper than {MAX_INCLUDE_DEPTH} files"))
        else:
            _expand(resolved, source, stack)
    stack.pop()
