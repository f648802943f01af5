"""Kickstart syntax versions, as pykickstart names them (RHEL9, F41, DEVEL).

The validator checks a file against the installer it is meant for; a fleet's
kickstarts are often older than the default version. When a command was
removed in the chosen version, the message names the last version that still
had it, so an administrator can check the file against the installer it was
written for instead of rewriting it.
"""

from pykickstart.base import RemovedCommand
from pykickstart.errors import KickstartError
from pykickstart.version import makeVersion, stringToVersion, versionMap, versionToString

from org_ovirt_node.errors import NodeError


def known_versions():
    """Every version name this pykickstart knows, oldest first within a family."""
    def order(name):
        family = name.rstrip("0123456789")
        return (family, int(name[len(family):] or 0))
    return sorted(versionMap, key=order)


def check_version(version):
    """pykickstart's number for VERSION ('RHEL9', 'F41', ...), or NodeError."""
    try:
        return stringToVersion(version)
    except KickstartError:
        raise NodeError(f"unknown kickstart version '{version}' (choose from "
                        f"{', '.join(known_versions())})") from None


def handler_for(version):
    """A new pykickstart handler for VERSION, or NodeError."""
    return makeVersion(check_version(version))


def last_with(command, version_number):
    """The newest version before VERSION_NUMBER, in its family (RHEL or
    Fedora), whose `COMMAND` still works; None if there is none."""
    # Imported here: the command map loads every version's handler module
    # (as top-level modules named f10 ... rhel11), needed only on this error path.
    from pykickstart.handlers.control import commandMap  # pylint: disable=import-outside-toplevel
    name = versionToString(version_number, skipDevel=True)
    family = name.rstrip("0123456789")
    older = [other for other in known_versions()
             if other.rstrip("0123456789") == family and versionMap[other] < version_number]
    for other in reversed(older):
        handler_class = commandMap.get(versionMap[other], {}).get(command)
        if handler_class is not None and not issubclass(handler_class, RemovedCommand):
            return other
    return None
