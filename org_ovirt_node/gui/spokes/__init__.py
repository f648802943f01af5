"""Graphical spokes Anaconda loads from the installed add-on."""
