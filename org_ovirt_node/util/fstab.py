"""fstab rendering: our entries replace the image's for the same mount points.

Lines of the image's fstab for other mount points (tmpfs, bind mounts) are
kept as they were, so an image can still carry its own.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class FstabEntry:
    """One fstab line."""

    spec: str
    mountpoint: str
    fstype: str
    options: str = "defaults"
    dump: int = 0
    passno: int = 0

    def render(self):
        """The entry as an fstab line."""
        return (f"{self.spec} {self.mountpoint} {self.fstype} {self.options} "
                f"{self.dump} {self.passno}")


def _mount_order(entry):
    """Parents before children (what `mount -a` needs), swap last."""
    if not entry.mountpoint.startswith("/"):
        return (1, 0, entry.mountpoint)
    depth = 0 if entry.mountpoint == "/" else entry.mountpoint.count("/")
    return (0, depth, entry.mountpoint)


def merge_fstab(existing_text, entries):
    """Return fstab text: ENTRIES, plus lines of EXISTING_TEXT for other mount points."""
    ours = {entry.mountpoint for entry in entries}
    kept = []
    for line in existing_text.splitlines():
        fields = line.split()
        if fields and not fields[0].startswith("#") and len(fields) >= 2 and fields[1] in ours:
            continue
        kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    header = ["# Written by ovirt-node install; thin volumes are mounted with discard."]
    body = [entry.render() for entry in sorted(entries, key=_mount_order)]
    return "\n".join(header + body + ([""] + kept if kept else [])) + "\n"


def parse_fstab(text):
    """The entries of an fstab text (comments and short lines skipped)."""
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[0].startswith("#"):
            continue
        numbers = [int(value) if value.isdigit() else 0 for value in fields[4:6]]
        numbers += [0] * (2 - len(numbers))
        entries.append(FstabEntry(fields[0], fields[1], fields[2],
                                  fields[3] if len(fields) > 3 else "defaults", *numbers))
    return entries
