"""Text spokes Anaconda loads from the installed add-on."""
