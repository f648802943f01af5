"""The node's life after install: update, rollback, gc, check, boot counting."""
