"""Kickstart toolkit: the `%addon org_ovirt_node` section, the validator, the
templates that render a kickstart per host, and the PXE boot configs.

Nothing here imports pyanaconda: the Anaconda add-on wraps section.NodeAddonData
in a thin AddonData shim, and the CLI uses the same class directly.

The two names the CLI's help shows live here, so building the parser needs
neither pykickstart nor jinja2 (a node runs `ovirt-node` without them).
"""

DEFAULT_VERSION = "RHEL9"   # kickstart syntax checked when none is named
VERSION_EXAMPLES = ("RHEL7", "RHEL8", "RHEL9", "RHEL10", "F41")  # named in --help
TEMPLATES = ("interactive-defaults.ks", "pxe-unattended.ks", "minimal.ks")
