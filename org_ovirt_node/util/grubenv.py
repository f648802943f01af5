"""GRUB's environment block (grubenv): a 1024-byte file of name=value lines.

grub2 with blscfg boots the entry named by saved_entry, so writing it is how
the newest layer becomes the default without running grub2-set-default.
"""

GRUBENV_SIZE = 1024
HEADER = "# GRUB Environment Block\n"


def render_grubenv(values):
    """The grubenv block holding VALUES, padded with '#' to 1024 bytes."""
    body = HEADER + "".join(f"{key}={value}\n" for key, value in values.items())
    data = body.encode("utf-8")
    if len(data) > GRUBENV_SIZE:
        raise ValueError("grubenv values do not fit in 1024 bytes")
    return data + b"#" * (GRUBENV_SIZE - len(data))


def parse_grubenv(data):
    """The name=value pairs of a grubenv block."""
    values = {}
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key] = value
    return values
