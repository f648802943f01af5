"""Render the kickstart templates (Jinja2) for one context or a whole fleet.

Templates live in the repository's kickstart/ directory (`NAME.ks`); a
template can also be given by path. Every template gets `node_section` (the
finished NodeAddonData; `{{ node_section }}` writes the section) and
`liveimg` (the matching `liveimg` command, or "" when Anaconda cannot fetch
that URL itself), so no template spells the section by hand.
"""

import shlex
import traceback
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import jinja2

from org_ovirt_node.errors import NodeError
from org_ovirt_node.ks import TEMPLATES
from org_ovirt_node.ks.section import build_section
from org_ovirt_node.ks.url import LIVEIMG_SCHEMES, parse_image_url_cached
from org_ovirt_node.util import safeio

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "kickstart"
# Where Anaconda mounts the media it booted stage2 from: an hd: image on the
# boot media is a plain file there.
INSTALL_MEDIA_MOUNT = "/run/install/repo"


def template_path(name_or_path):
    """The template file for a name in TEMPLATES or a path."""
    path = Path(name_or_path)
    if path.is_file():
        safeio.check_input_file(path, "template")
        if path.stat().st_size > safeio.TEXT_LIMIT:
            raise NodeError(f"{path}: the template is larger than "
                            f"{safeio.TEXT_LIMIT >> 20} MiB")
        return path.resolve()
    if path.exists() and len(path.parts) > 1:
        safeio.check_input_file(path, "template")
    candidate = TEMPLATE_DIR / str(name_or_path)
    if len(path.parts) == 1 and candidate.is_file():
        return candidate
    raise NodeError(f"no template '{name_or_path}' (built in: {', '.join(TEMPLATES)}; "
                    "or give a file path)")


@lru_cache(maxsize=None)
def _environment(directory):
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
        autoescape=False, auto_reload=False)
    environment.filters["ks_quote"] = shlex.quote
    return environment


def load_template(name_or_path):
    """The compiled template (compiled once per process)."""
    path = template_path(name_or_path)
    try:
        template = _environment(str(path.parent)).get_template(path.name)
    except jinja2.TemplateSyntaxError as error:
        raise NodeError(error.message, where=f"{path}:{error.lineno}") from None
    except UnicodeDecodeError:
        safeio.read_text(path, "template")  # raises, naming the line
        raise
    return template


def liveimg_command(node):
    """The `liveimg` line that gives Anaconda the same image as NODE, or ""."""
    url = parse_image_url_cached(node.image_url)
    if url.scheme in LIVEIMG_SCHEMES:
        location = url.text
    elif url.scheme == "hd":
        location = f"file://{INSTALL_MEDIA_MOUNT}{url.path}"
    else:
        return ""
    words = ["liveimg", f"--url={shlex.quote(location)}"]
    if node.checksum:
        words.append(f"--checksum={node.checksum.split(':', 1)[1]}")
    if node.proxy:
        words.append(f"--proxy={shlex.quote(node.proxy)}")
    if node.noverifyssl:
        words.append("--noverifyssl")
    return " ".join(words)


def render(template, context):
    """Render a loaded TEMPLATE; template mistakes become NodeError at template:line."""
    context = dict(context)
    if "node_section" not in context:
        context["node_section"] = build_section(context.get("image_url", ""),
                                                context.get("checksum", ""),
                                                context.get("node"))
    context.setdefault("liveimg", liveimg_command(context["node_section"]))
    try:
        return template.render(context)
    except jinja2.TemplateError as error:
        lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
                 if frame.filename == template.filename]
        where = f"{template.filename}:{lines[-1]}" if lines else template.filename
        raise NodeError(f"template error: {error}", where=where) from None


def render_template(name_or_path, context):
    """Render one template to kickstart text.

    CONTEXT keys: image_url (required unless node_section is given), checksum
    ("sha256:HEX"), node (dict of section options: vg, pool, volumes, volume
    {mount: size}, fstype, keep, proxy, noverifyssl); pxe-unattended.ks also
    needs host (an inventory.Host). Example, for a remastered ISO:
    render_template("interactive-defaults.ks",
                    {"image_url": "hd:LABEL=OVIRT-NODE:/ovirt-node.squashfs"})
    """
    return render(load_template(name_or_path), context)


def render_inventory(name_or_path, hosts, out_dir):
    """Write OUT_DIR/<hostname>.ks for every host; return the paths written."""
    template = load_template(name_or_path)
    written = []
    with output_errors(out_dir):
        safeio.check_output_dir(out_dir, create=True)
        for host in hosts:
            text = render(template, {"host": host, "node_section": host.node})
            written.append(safeio.write_in(out_dir, f"{host.hostname}.ks", text))
    return written


@contextmanager
def output_errors(out_dir):
    """Turn a failure to write into OUT_DIR into one NodeError line."""
    try:
        yield
    except OSError as error:
        raise NodeError(f"cannot write {error.filename or out_dir}: {error.strerror}") from None
