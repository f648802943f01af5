"""The text spoke: a simpleline form over ui.presenter (no pyanaconda here but
in spokes/, which Anaconda loads from the installed add-on)."""
