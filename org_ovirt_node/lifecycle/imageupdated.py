"""/var/imgbased/.image-updated: the marker oVirt's engine reads after an image update.

The engine's ovirt-host-upgrade role removes it, installs the image-update
package (whose %post runs the update) and, when the marker is missing
afterwards, fails with "Node image upgrade failed": a failing %post does
not fail dnf. imgbased removes it when an update starts and writes the
image file's name (with a newline) once the new base is made; `update`
does the same around its own steps: cleared when apply starts, written
after the switch. /var is a separate volume every layer mounts, so the
marker is the running node's, seen by the new layer too.
"""

import os

from org_ovirt_node.util.atomic import write_atomic

MARKER = "var/imgbased/.image-updated"


def clear(root="/"):
    """Remove the marker under ROOT, if any: an update is starting."""
    try:
        os.unlink(os.path.join(root, MARKER))
    except FileNotFoundError:
        pass


def mark(image, root="/"):
    """Record under ROOT that the update from the file IMAGE went through."""
    write_atomic(os.path.join(root, MARKER), (os.path.basename(image) + "\n").encode("utf-8"))
