"""The add-on's D-Bus service: the process Anaconda starts to read the
`%addon org_ovirt_node` section and run the node install as tasks.

Nothing here imports pyanaconda: the kickstart-module protocol is spoken with
dasbus directly, so the service runs (and is tested) outside the installer.
"""
