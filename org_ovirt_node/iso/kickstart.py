"""Pointing a kickstart at the node image that travels with it.

On the installer ISO the image sits next to the kickstart, and Anaconda has
the ISO mounted at /run/install/repo when it booted with
`inst.stage2=hd:LABEL=...`; in a PXE tree the image is under the base URL.
Either way the kickstart's `liveimg --url` must name that copy and its
`--checksum` must match it, whether the kickstart is ours or the user's.
"""

import re
import shlex

from org_ovirt_node.errors import NodeError

ISO_MOUNT = "/run/install/repo"
_LIVEIMG = re.compile(r"^(\s*)liveimg\b(.*)$")


def iso_image_url(name):
    """The URL Anaconda reads image NAME at, on the medium it booted from."""
    return f"file://{ISO_MOUNT}/{name}"


def liveimg_line(url, sha256):
    """A `liveimg` command for URL, checked against SHA256."""
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise NodeError(f"image URL {url!r} holds blanks or line breaks")
    return f"liveimg --url={url} --checksum={sha256}"


def point_liveimg(text, url, sha256):
    """Return (TEXT with every `liveimg` naming URL and SHA256, whether one was there).

    Other options of the command (--proxy, --noverifyssl) are kept. A
    kickstart without `liveimg` gets one appended: the image is on the
    medium for exactly that purpose.
    """
    lines, found = [], False
    for line in text.splitlines():
        match = _LIVEIMG.match(line)
        if match:
            found = True
            kept, skip_value = [], False
            try:
                words = shlex.split(match.group(2), comments=True)
            except ValueError as error:
                raise NodeError(f"the kickstart's liveimg line cannot be read: {error}") \
                    from None
            for opt in words:
                if skip_value:
                    skip_value = False
                elif opt in ("--url", "--checksum"):
                    skip_value = True
                elif not opt.startswith(("--url=", "--checksum=")):
                    kept.append(shlex.quote(opt))
            line = match.group(1) + " ".join([liveimg_line(url, sha256)] + kept)
        lines.append(line)
    if not found:
        lines.append(liveimg_line(url, sha256))
    return "\n".join(lines) + "\n", found


def default_kickstart(image_url, sha256):
    """The rendered kickstart/interactive-defaults.ks for the image at IMAGE_URL.

    IMAGE_URL is how the node add-on names the image (`hd:LABEL=...:/name`
    on the ISO, the HTTP URL in a PXE tree); the template derives the
    matching `liveimg` from it.
    """
    # Imported here: Jinja2 and pykickstart are needed only for our own kickstart,
    # and a remaster with the user's (--ks) stays without them (less memory).
    from org_ovirt_node.ks.render import render_template
    return render_template("interactive-defaults.ks",
                           {"image_url": image_url, "checksum": f"sha256:{sha256}"})
