"""`ovirt-node gc`: remove the oldest images beyond --keep.

A base goes with its layers, their entries and kernels (removal.py). Never
removed: the bases of the running, default, fallback or pinned layers, so gc
can run right after an update's switch without touching what may boot next.
The count to keep comes from the install (--keep, recorded in the node state).
"""

from org_ovirt_node.errors import NodeError
from org_ovirt_node.lifecycle import bootcount, journal, removal


def protected_layers(node):
    """{layer: why} for the layers gc must never remove."""
    env = node.grubenv()
    reasons = {}
    fallback = node.entry(env.get(bootcount.FALLBACK)) if bootcount.is_armed(env) else None
    for layer, why in ((node.running, "running"), (node.default_layer(), "boot default"),
                       (fallback.layer if fallback else None, "fallback")):
        if layer:
            reasons.setdefault(layer, why)
    for layer in node.state().pinned:
        reasons.setdefault(layer, "pinned")
    return reasons


def plan_gc(node, keep=None, after_switch=None):
    """{'keep': N, 'remove': [{'base', 'layers'}], 'kept': [...]}: what gc would do.

    AFTER_SWITCH, (new base, new layer, fallback layer), plans the gc an
    update runs once it has switched, before anything of it exists.
    """
    keep = node.state().keep if keep is None else keep
    if keep < 1:
        raise NodeError(f"--keep must be at least 1, not {keep}")
    layers = node.layers()
    protected = protected_layers(node)
    bases = node.bases()
    if after_switch:
        new_base, new_layer, fallback = after_switch
        layers[new_layer] = new_base
        bases = sorted(set(bases) | {new_base}, key=node.base_order_key)
        protected = {layer: why for layer, why in protected.items() if why != "boot default"}
        protected[new_layer] = "boot default"
        protected.setdefault(fallback, "fallback")
    by_base = {}
    for layer, base in layers.items():
        by_base.setdefault(base, []).append(layer)
    remove = []
    remaining = len(bases)
    for base in bases:                       # oldest first
        if remaining <= keep:
            break
        if any(layer in protected for layer in by_base.get(base, [])):
            continue
        remove.append({"base": base, "layers": sorted(by_base.get(base, []))})
        remaining -= 1
    removed_bases = {item["base"] for item in remove}
    return {"keep": keep, "remove": remove,
            "kept": [base for base in bases if base not in removed_bases],
            "protected": protected}


def remove_image(node, base):
    """Remove BASE with all its layers, entries and kernels; return what went."""
    layers = sorted(layer for layer, origin in node.layers().items() if origin == base)
    return removal.remove_base(node, base, layers)


def gc(node, plan, reporter):
    """Carry out PLAN (and finish off an interrupted update); return what went."""
    removed = []
    unfinished = journal.read(node)
    if unfinished is not None:
        removed += journal.undo(node, unfinished)
    for item in plan["remove"]:
        reporter.info(f"removing {item['base']} and its layers")
        removed += remove_image(node, item["base"])
    state = node.state()
    if state.forget_missing(node.layers(), node.bases()):
        node.save_state(state)
    return removed
