"""`ovirt-node rollback`: make an earlier layer the boot default.

Unlike imgbased's rollback (which only flips the default and crashes with one
layer), the target is checked first: its LV, boot entry, kernel and initrd
must all be there, and a layer that failed to boot is refused unless forced.
The switch is one atomic grubenv write, with no try counter armed: the
target booted before.
"""

from org_ovirt_node.errors import NodeError
from org_ovirt_node.lifecycle import bootcount
from org_ovirt_node.nvr import split_layer


def resolve_layer(node, name):
    """The layer NAME means: a layer name, or a base (its newest layer)."""
    layers = node.layers_in_order()
    if name in layers:
        return name
    of_base = [layer for layer in layers if (split_layer(layer) or ("", 0))[0] == name]
    if of_base:
        return of_base[-1]
    raise NodeError(f"no layer {name} in {node.vg} (layers: {', '.join(layers) or 'none'})")


def plan_rollback(node, to=None, force=False, current_ok=False):
    """The entry a rollback switches to; raises NodeError when it cannot.

    With CURRENT_OK (a dry run) a target that is already the boot default is
    a plan that changes nothing, so a caller can tell "already there" apart.
    """
    current = node.default_layer() or node.running
    layers = node.layers_in_order()
    if to:
        target = resolve_layer(node, to)
    else:
        earlier = layers[:layers.index(current)] if current in layers else []
        if not earlier:
            raise NodeError(f"no layer older than {current or 'the default'} to roll back to "
                            f"(layers: {', '.join(layers) or 'none'}); name one with --to")
        target = earlier[-1]
    if target == current and not current_ok:
        raise NodeError(f"{target} is already the boot default")
    if target in node.state().bad and not force:
        raise NodeError(f"{target} failed to boot before (marked bad); pass --force to "
                        "roll back to it anyway")
    entries = node.entries_of(target)
    if not entries:
        raise NodeError(f"{target} has no boot entry in /boot/loader/entries")
    entry = entries[0]
    if not node.entry_files_exist(entry):
        raise NodeError(f"{target}'s kernel or initrd is missing from /boot "
                        f"({entry.linux}, {entry.initrd})")
    return {"from": current, "to": target, "entry": entry.entry_id}


def rollback(node, plan):
    """Make PLAN's entry the default (one atomic grubenv write)."""
    node.write_grubenv(bootcount.settled(node.grubenv(), plan["entry"]))
