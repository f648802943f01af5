"""The graphical spoke: a GTK controller over ui.presenter for the widgets of
spokes/ovirt_node.glade (no pyanaconda here but in spokes/)."""
