"""`ovirt-node pin/unpin`: keep a layer from ever being garbage-collected."""

from org_ovirt_node.lifecycle.rollback import resolve_layer


def set_pinned(node, name, pinned):
    """Pin or unpin layer NAME; return the layer and whether anything changed."""
    layer = resolve_layer(node, name)
    state = node.state()
    if pinned == (layer in state.pinned):
        return layer, False
    if pinned:
        state.pinned.append(layer)
    else:
        state.pinned.remove(layer)
    node.save_state(state)
    return layer, True
