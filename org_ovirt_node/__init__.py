"""oVirt Node installer toolkit: engine, CLI and Anaconda add-on."""

__version__ = "0.1.0"
