"""Split a kickstart line into words exactly as `shlex.split` does, in time
linear in the line's length.

pykickstart splits every command line with `shlex.split`, whose tokenizer
grows each word with `self.token += char`: an attribute, so CPython cannot
extend the string in place and a word of n characters costs O(n^2). A
200 KB `bootloader --append=...` then takes seconds. This splitter finds the
same words (POSIX mode, whitespace-separated, quotes, backslash escapes,
optional `#` comments, the same ValueError messages) with regular
expressions and joins each word once.
"""

import re
from contextlib import contextmanager

_WHITESPACE = " \t\r\n"
_PLAIN = re.compile(r"[^ \t\r\n'\"\\]+")
_PLAIN_NO_COMMENT = re.compile(r"[^ \t\r\n'\"\\#]+")
_BLANKS = re.compile(r"[ \t\r\n]+")
_IN_DOUBLE = re.compile(r'[^"\\]+')


def split(text, comments=False):
    """The words of TEXT, as shlex.split(TEXT, comments) returns them."""
    plain = _PLAIN_NO_COMMENT if comments else _PLAIN
    words, word, i, end = [], None, 0, len(text)
    while i < end:
        char = text[i]
        if char in _WHITESPACE:
            if word is not None:
                words.append("".join(word))
                word = None
            i = _BLANKS.match(text, i).end()
        elif comments and char == "#":
            if word is not None:
                words.append("".join(word))
                word = None
            newline = text.find("\n", i)
            i = end if newline < 0 else newline + 1
        elif char == "'":
            close = text.find("'", i + 1)
            if close < 0:
                raise ValueError("No closing quotation")
            word = [] if word is None else word
            word.append(text[i + 1:close])
            i = close + 1
        elif char == '"':
            word = [] if word is None else word
            i = _double_quoted(text, i + 1, word)
        elif char == "\\":
            if i + 1 >= end:
                raise ValueError("No escaped character")
            word = [] if word is None else word
            word.append(text[i + 1])
            i += 2
        else:
            match = plain.match(text, i)
            word = [] if word is None else word
            word.append(match.group())
            i = match.end()
    if word is not None:
        words.append("".join(word))
    return words


def _double_quoted(text, i, word):
    """Append the body of a "..." starting at I to WORD; return the index after it."""
    end = len(text)
    while True:
        match = _IN_DOUBLE.match(text, i)
        if match:
            word.append(match.group())
            i = match.end()
        if i >= end:
            raise ValueError("No closing quotation")
        if text[i] == '"':
            return i + 1
        if i + 1 >= end:  # a backslash at the very end
            raise ValueError("No escaped character")
        escaped = text[i + 1]
        word.append(escaped if escaped in '"\\' else "\\" + escaped)
        i += 2


class _Shlex:
    """Stands in for the shlex module inside pykickstart's parser."""

    split = staticmethod(split)


@contextmanager
def linear_split_in(module):
    """Make MODULE's `shlex.split` this linear one while the block runs."""
    original = module.shlex
    module.shlex = _Shlex
    try:
        yield
    finally:
        module.shlex = original
