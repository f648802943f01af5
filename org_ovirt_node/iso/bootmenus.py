"""Rewriting boot menus (isolinux.cfg, grub.cfg) as text, nothing else.

A remastered ISO must boot the same entries with different kernel arguments,
a different volume label and perhaps different entry names, in every menu the
firmware might read. These functions take the menu text and a MenuEdit and
return the new text plus how many boot entries they changed; they never touch
files, so each rule is tested on plain strings.

Kernel argument rules (mkksiso's, minus its known flaw): arguments named in
`remove` go first, then each added argument is appended unless the very same
argument is already there. Callers put `inst.ks`/`inst.updates` in `remove`
when they add their own, so those are replaced, never doubled.
"""

import re
from dataclasses import dataclass, field

# udev keeps these characters in labels as they are (libudev's whitelist);
# everything else is written \xNN, which is how dracut's hd:LABEL= expects it.
_UDEV_SAFE = re.compile(r"[a-zA-Z0-9#+.:=@_-]")
_ISOLINUX_ARGS = re.compile(r"^(\s*append)(\s+)(.*?)\s*$", re.IGNORECASE)
_GRUB_LINUX = re.compile(r"^(\s*(?:linux|linuxefi|linux16)\s+)(\S+)(.*?)\s*$")
_ISOLINUX_TITLE = re.compile(r"^(\s*menu\s+(?:label|title)\s+)(.*?)\s*$", re.IGNORECASE)
_GRUB_TITLE = re.compile(r"^(\s*(?:menuentry|submenu)\s+)'([^']*)'(.*)$")
_GRUB_SEARCH = re.compile(
    r"^(\s*search\b.*?(?:-l|--label)\s+)('[^']*'|\"[^\"]*\"|\S+)(.*)$")


def udev_escape(label):
    """LABEL as it must appear in `hd:LABEL=` arguments (space -> \\x20)."""
    return "".join(ch if _UDEV_SAFE.match(ch) else f"\\x{ord(ch):02x}" for ch in label)


def split_args(text):
    """Split a kernel command line on blanks, keeping double-quoted values whole."""
    return re.findall(r'(?:[^\s"]+|"[^"]*")+', text)


def grub_split(text):
    r"""Split GRUB's argument words into their literal values.

    Quotes work as in GRUB ('...' literal, "..." with \\ escapes). Outside
    quotes GRUB would turn `\x20` into `x20`; such menus exist (mkksiso -V
    writes them), and the udev escape is plainly what was meant, so
    `\xHH` is kept as written.
    """
    words, word, quote, in_word, i = [], "", None, False, 0
    while i < len(text):
        ch = text[i]
        if quote == "'":
            if ch == "'":
                quote = None
            else:
                word += ch
        elif quote == '"':
            if ch == '"':
                quote = None
            elif ch == "\\" and i + 1 < len(text) and text[i + 1] in '"\\$':
                i += 1
                word += text[i]
            else:
                word += ch
        elif ch in "'\"":
            quote, in_word = ch, True
        elif ch == "\\" and i + 1 < len(text):
            if re.match(r"x[0-9a-fA-F]{2}", text[i + 1:i + 4]):
                word += ch
            else:
                i += 1
                word += text[i]
            in_word = True
        elif ch.isspace():
            if in_word:
                words.append(word)
            word, in_word = "", False
        else:
            word, in_word = word + ch, True
        i += 1
    if in_word:
        words.append(word)
    return words


def grub_quote(value):
    """VALUE as one GRUB word: bare when plain, else in single quotes."""
    if re.fullmatch(r"[\w.,:/=+@%-]+", value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


def arg_name(arg):
    """The name of a kernel argument: `inst.ks` for `inst.ks=hd:...`."""
    return arg.split("=", 1)[0]


@dataclass
class MenuEdit:
    """What to change in every boot entry of every menu.

    add: arguments appended to each entry; remove: argument names dropped first;
    old_label/new_label: the volume id before and after (unescaped);
    titles: (old, new) product names replaced in entry names, longest first.
    """

    add: list = field(default_factory=list)
    remove: set = field(default_factory=set)
    old_label: str = ""
    new_label: str = ""
    titles: list = field(default_factory=list)

    def relabel(self, text):
        """TEXT with `LABEL=<old>` (escaped as udev does) pointing at the new label."""
        if not self.old_label or self.old_label == self.new_label:
            return text
        old, new = udev_escape(self.old_label), udev_escape(self.new_label)
        return re.sub(r"(LABEL=)" + re.escape(old) + r"(?=$|[:\s\"])",
                      lambda m: m.group(1) + new, text)

    def edit_args(self, args):
        """The new argument list for one boot entry."""
        kept = [self.relabel(arg) for arg in args if arg_name(arg) not in self.remove]
        for arg in self.add:
            if arg not in kept:
                kept.append(arg)
        return kept

    def retitle(self, title, quote=None):
        """TITLE with the product names replaced; QUOTE is the quote it lives in."""
        for old, new in self.titles:
            if quote == "'":
                new = new.replace("'", "'\\''")
            title = title.replace(old, new)
        return title


def rewrite_isolinux(text, edit):
    """Apply EDIT to an isolinux/syslinux config; return (text, entries changed)."""
    lines, changed, in_help = [], 0, False
    for line in text.splitlines():
        match = _ISOLINUX_ARGS.match(line)
        title = _ISOLINUX_TITLE.match(line)
        word = line.strip().lower()
        if match:
            head, gap, args = match.groups()
            line = head + gap + " ".join(edit.edit_args(split_args(args)))
            changed += 1
        elif title:
            line = title.group(1) + edit.retitle(title.group(2))
        elif word == "text help" or word == "endtext":
            in_help = word == "text help"
        elif in_help:  # help text names the product too
            line = edit.retitle(line)
        lines.append(line)
    return "\n".join(lines) + "\n", changed


def rewrite_grub(text, edit):
    """Apply EDIT to a GRUB2 config; return (text, entries changed)."""
    lines, changed = [], 0
    for line in text.splitlines():
        linux = _GRUB_LINUX.match(line)
        title = _GRUB_TITLE.match(line)
        search = _GRUB_SEARCH.match(line)
        if linux:
            head, kernel, args = linux.groups()
            new_args = edit.edit_args(grub_split(args))
            line = head + kernel + "".join(" " + grub_quote(arg) for arg in new_args)
            changed += 1
        elif title:
            line = f"{title.group(1)}'{edit.retitle(title.group(2), quote=chr(39))}'{title.group(3)}"
        elif search and edit.new_label and edit.old_label != edit.new_label:
            label = search.group(2).strip("'\"")
            if label == edit.old_label:
                new = edit.new_label.replace("'", "'\\''")
                line = f"{search.group(1)}'{new}'{search.group(3)}"
        lines.append(line)
    return "\n".join(lines) + "\n", changed


def rewrite_menu(path, text, edit):
    """Rewrite the menu at ISO path PATH with the rules its boot loader reads."""
    if path.lower().endswith(("isolinux.cfg", "syslinux.cfg")):
        return rewrite_isolinux(text, edit)
    return rewrite_grub(text, edit)
