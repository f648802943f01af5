"""Single-job helpers the engine's steps share."""
