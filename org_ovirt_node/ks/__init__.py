"""Kickstart toolkit: the `%addon org_ovirt_node` section, the validator, the
templates that render a kickstart per host, and the PXE boot configs.

Nothing here imports pyanaconda: the Anaconda add-on wraps section.NodeAddonData
in a thin AddonData shim, and the CLI uses the same class directly.
"""
