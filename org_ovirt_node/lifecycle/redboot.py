"""`ovirt-node redboot`: after a red health verdict, reboot only when that helps.

greenboot's redboot rule, on our grubenv: rebooting is useful only while
GRUB is counting tries of a new layer and this boot is one of them. Then
GRUB either tries the new layer again or, once boot_counter is 0 (it is
decremented before each try, so the last try already sees "0"), boots the
fallback. On the fallback itself, or with no counter armed, a reboot would
boot the same layer again: never reboot then, so a node never reboot-loops.
decide() is the whole rule, on plain values; act() carries it out.
"""

from org_ovirt_node.lifecycle import bootcount
from org_ovirt_node.lifecycle.node import find_entry
from org_ovirt_node.util.run import run

REBOOT_COMMAND = ("systemctl", "reboot")


def decide(env, entries, running):
    """{"reboot": bool, "reason": str, ...} for grubenv ENV, boot ENTRIES and the RUNNING layer."""
    counter = env.get(bootcount.COUNTER)
    saved = find_entry(entries, env.get("saved_entry"))
    fallback = find_entry(entries, env.get(bootcount.FALLBACK))
    facts = {"running": running, "default": saved.layer if saved else None,
             "fallback": fallback.layer if fallback else None, "boot_counter": counter}

    def no(reason):
        return dict(facts, reboot=False, reason=f"not rebooting: {reason}")
    if not running:
        return no("this system was not booted from a node layer (no img.bootid=)")
    if not bootcount.is_armed(env):
        return no(f"no boot counter is armed, so a reboot would boot {running} again")
    if counter == "-1" or not counter.isdigit():
        return no(f"boot_counter is {counter!r}, not a count of tries left")
    if saved is None:
        return no(f"saved_entry {env.get('saved_entry')!r} names no boot entry")
    if saved.layer != running:
        return no(f"{running} is not the layer being tried ({saved.layer}): this is the "
                  "fallback or a manual choice, and it stays up")
    if fallback is None:
        return no(f"boot_fallback {env.get(bootcount.FALLBACK)!r} names no boot entry")
    if fallback.layer == running:
        return no(f"the fallback entry {fallback.entry_id} boots {running} too")
    if counter == "0":
        then = f"its tries are used up, so GRUB boots the fallback {fallback.layer}"
    else:
        then = (f"GRUB tries it {counter} more time{'s' if counter != '1' else ''}, then "
                f"boots the fallback {fallback.layer}")
    return dict(facts, reboot=True, reason=f"rebooting: {running} failed its health "
                                           f"checks; {then}")


def act(node, dry_run=False, runner=run, command=REBOOT_COMMAND):
    """Decide for NODE (a booted node's /boot) and reboot when the rule says so."""
    decision = decide(node.grubenv(), node.entries(), node.running)
    decision["dry_run"] = dry_run
    if decision["reboot"] and not dry_run:
        runner(list(command))
    return decision
