"""The add-on's one gettext domain and its helpers.

Every user-visible string of the spokes goes through `_` (translate now) or
`N_` (mark for xgettext, translate when shown), so `make potfile` finds them
all and the installer's language applies to the add-on too.
"""

import gettext

DOMAIN = "org_ovirt_node"

_TRANSLATION = gettext.translation(DOMAIN, fallback=True)


def _(message):
    """MESSAGE in the installer's language."""
    return _TRANSLATION.gettext(message)


def N_(message):  # pylint: disable=invalid-name
    """MESSAGE unchanged: marks a constant for extraction, shown later with _."""
    return message
