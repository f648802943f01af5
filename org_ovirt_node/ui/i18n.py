"""The add-on's one gettext domain and its helpers.

Every user-visible string of the spokes goes through `_` (translate now) or
`N_` (mark for xgettext, translate when shown), so `make potfile` finds them
all and the installer's language applies to the add-on too.

The installer's language is chosen after the add-on is imported (Anaconda
sets LANG when the user picks one), so nothing is translated at import: `_`
looks the catalog up for the language in the environment at each call, as
OSCAP's add-on does, and a spoke's title is a TranslatedText that does so
each time it is read.
"""

import gettext

DOMAIN = "org_ovirt_node"
# Where the catalogs are; None is gettext's default (/usr/share/locale).
LOCALE_DIR = None


def _translation():
    """The catalog for the language in the environment now (gettext caches
    the files it has read, so asking each time costs little)."""
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, fallback=True)


def _(message):
    """MESSAGE in the installer's current language."""
    return _translation().gettext(message)


def N_(message):  # pylint: disable=invalid-name
    """MESSAGE unchanged: marks a constant for extraction, shown later with _."""
    return message


class TranslatedText:
    """A class attribute that reads as _(MESSAGE) at each access, on the class
    and on instances. Anaconda's base classes assign their own default title
    in __init__; those assignments are ignored, the add-on's text stays."""

    def __init__(self, message):
        self.message = message

    def __get__(self, instance, owner=None):
        return _(self.message)

    def __set__(self, instance, value):
        """Ignored: the text is the add-on's, translated when read."""
