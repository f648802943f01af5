"""Automatic fallback: a try counter in grubenv, cleared only by `boot-ok`.

When an update switches to a new layer it arms the counter: `boot_counter`
tries for `saved_entry`, and `boot_fallback` (a BLS id, never a menu
position) to boot once they are used up. GRUB's grub.cfg counts each attempt
(util/grubcfg.py). A boot counts as good only when the node says so after its
own health checks, by running `ovirt-node boot-ok`: that clears the counter
and records the layer as last-known-good. If the node comes up on the
fallback instead, boot-ok marks the new layer bad and makes the fallback the
default, so the next boot does not try the bad layer again.
"""

from org_ovirt_node.errors import NodeError

DEFAULT_TRIES = 3
MAX_TRIES = 9          # grub.cfg decrements through an if-chain of this length
COUNTER = "boot_counter"
FALLBACK = "boot_fallback"


def armed(env, entry_id, fallback_id, tries=DEFAULT_TRIES):
    """grubenv values that make ENTRY_ID the default with TRIES attempts."""
    if not 1 <= tries <= MAX_TRIES:
        raise NodeError(f"--tries must be from 1 to {MAX_TRIES}, not {tries}")
    values = dict(env, saved_entry=entry_id)
    values[COUNTER] = str(tries)
    values[FALLBACK] = fallback_id
    return values


def settled(env, entry_id):
    """grubenv values that make ENTRY_ID the default with no counter armed."""
    values = dict(env, saved_entry=entry_id)
    values.pop(COUNTER, None)
    values.pop(FALLBACK, None)
    return values


def is_armed(env):
    """True while an update's new layer has not been confirmed yet."""
    return bool(env.get(COUNTER)) and bool(env.get(FALLBACK))


def failed_default(node, env=None):
    """The default layer when its tries are used up (GRUB now boots the fallback)."""
    env = node.grubenv() if env is None else env
    if not is_armed(env) or env.get(COUNTER) != "0":
        return None
    entry = node.entry(env.get("saved_entry"))
    return entry.layer if entry else None


def boot_ok(node):
    """Record that the running layer booted well; return what was done as a dict."""
    if not node.running:
        raise NodeError("boot-ok runs on a booted node: /proc/cmdline has no img.bootid=")
    env = node.grubenv()
    state = node.state()
    result = {"running": node.running, "marked_bad": None, "default": None}
    failed = failed_default(node, env)
    fallback = node.entry(env.get(FALLBACK))
    if failed and failed != node.running and fallback and fallback.layer == node.running:
        if failed not in state.bad:
            state.bad.append(failed)
        result["marked_bad"] = failed
        node.write_grubenv(settled(env, fallback.entry_id))
    else:
        default = node.entry(env.get("saved_entry"))
        if default and default.layer == node.running and is_armed(env):
            node.write_grubenv(settled(env, default.entry_id))
    if node.running in state.bad:
        state.bad.remove(node.running)
    state.last_known_good = node.running
    node.save_state(state)
    result["default"] = node.default_layer()
    return result
