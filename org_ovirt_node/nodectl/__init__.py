"""`nodectl`, oVirt Node's admin tool, over this engine: cli.py reads, shapes.py maps."""
