"""Boot Loader Specification entries, as EL's grub2 (blscfg) reads them."""

from dataclasses import dataclass


@dataclass(frozen=True)
class BlsEntry:
    """One /boot/loader/entries/<id>.conf file."""

    entry_id: str       # file name without .conf; grubenv's saved_entry names it
    title: str
    version: str
    linux: str          # path relative to the root of the /boot filesystem
    initrd: str
    options: str

    @property
    def filename(self):
        """The entry's file name in loader/entries."""
        return f"{self.entry_id}.conf"

    def render(self):
        """The entry file's text."""
        return (f"title {self.title}\n"
                f"version {self.version}\n"
                f"linux {self.linux}\n"
                f"initrd {self.initrd}\n"
                f"options {self.options}\n"
                "grub_users $grub_users\n"
                "grub_arg --unrestricted\n"
                "grub_class kernel\n")


def parse_bls(text):
    """Return the keys of a BLS entry text as a dict (last one wins)."""
    values = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key and not key.startswith("#"):
            values[key] = value.strip()
    return values
