"""What the node spokes show and accept, shared by the text and graphical UI.

Nothing here imports GTK or pyanaconda, so the logic runs (and is tested)
outside the installer against the real add-on service.
"""
