"""The add-on's D-Bus service: the process Anaconda starts to read the
`%addon org_ovirt_node` section and run the node install as tasks.

Only service.anaconda imports pyanaconda, as thin glue onto Anaconda's
KickstartService for inside the installer; everything else speaks the
kickstart-module protocol with dasbus directly, so the service runs (and is
tested) outside the installer too.
"""
