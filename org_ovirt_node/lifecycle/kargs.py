"""Kernel arguments of a layer: the image's own, the administrator's changes, the merge.

The design, in one place:

- A layer's **image arguments** are its image's `/etc/kernel/cmdline`
  (read from the base, which nobody edits). They are recorded in the node
  state per layer when the layer is made (install, update), so `status`
  can show them without mounting anything; a layer made before that record
  existed has them read from its base when a command can mount it.
- The **effective arguments** are the layer's BLS entry options minus the
  node-managed ones (`root=`, `rd.lvm.lv=`, `rootflags=`, `img.bootid=`,
  `BOOT_IMAGE=`, and the `panic=10` the node adds when the image sets no
  `panic=`). The entry stays the one record of what boots: the **local
  changes** are not stored but derived, as the difference between the image
  arguments and the effective ones: *added* (in the entry's order) and
  *removed* (in the image's order). So a hand edit of an entry (grubby)
  counts as a local change too, and record and entry can never disagree.
- An **update** applies the local changes onto the NEW image's arguments
  (merge): the new image's arguments in its order, minus the removed ones,
  then the added ones not already there. An argument the new image adds
  appears, one it dropped goes unless the administrator had added it. A key
  the administrator *replaced* (every image value of K removed, a K=V added)
  keeps the administrator's value even when the new image changes its own.
  A plain removal of `K=V` removes exactly that: when the new image changes
  K's value, the new value arrives (as bootc does with its image kargs).

Arguments follow the kernel's grammar (lib/cmdline.c): separated by spaces,
a double-quoted value may hold spaces (`K="a b"`). What GRUB's script would
interpret (`$`, `\\`, `'`, `;`, ...) is refused: the options go into
grub.cfg's `linux` lines as they are.
"""

import os
import re

from org_ovirt_node.errors import NodeError
from org_ovirt_node.install.bootconfig import PANIC_REBOOT_SECONDS
from org_ovirt_node.util import grubcfg
from org_ovirt_node.util.atomic import write_atomic

MANAGED_KEYS = ("root", "rd.lvm.lv", "rootflags", "img.bootid", "BOOT_IMAGE")
"""Set per layer by the node (bootconfig.layer_options): never the administrator's."""
NODE_PANIC = f"panic={PANIC_REBOOT_SECONDS}"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f$\\';&|<>{}`]")
_ARG = re.compile(r'[^\s"=]+(=([^\s"]*|"[^"]*"))?')


def key(arg):
    """The key of ARG: `K` of `K=V` or of a flag `K`."""
    return arg.split("=", 1)[0]


def split_args(text, what="kernel arguments", strict=True):
    """TEXT split as the kernel splits its command line: at spaces outside double quotes.

    An unbalanced quote is an error when STRICT, else (a boot entry's options,
    which may have been edited by hand) it runs to the end, as in the kernel.
    """
    args, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char.isspace() and not quoted:
            if current:
                args.append(current)
            current = ""
            continue
        current += char
    if quoted and strict:
        raise NodeError(f"{what}: unbalanced double quote in {text.strip()!r}")
    if current:
        args.append(current)
    return args


def check_arg(arg):
    """ARG if it is one well-formed kernel argument (K, K=V, K="a b"), else a NodeError."""
    if _UNSAFE.search(arg):
        raise NodeError(f"kernel argument {arg!r}: control characters and $ \\ ' ; & | < > "
                        "{ } ` are not allowed (GRUB would interpret them)")
    if not _ARG.fullmatch(arg):
        if " " in arg and '"' not in arg:
            raise NodeError(f"kernel argument {arg!r}: one argument per option; a value with "
                            f"spaces must be quoted: {key(arg)}=\"...\"")
        raise NodeError(f"kernel argument {arg!r} is not K, K=VALUE or K=\"VALUE WITH SPACES\"")
    return arg


def read_image_args(root):
    """The image's own arguments: ROOT/etc/kernel/cmdline, split as the kernel does,
    without the node-managed ones (the node sets those per layer)."""
    path = os.path.join(root, "etc/kernel/cmdline")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(65536)
    except FileNotFoundError:
        return []
    return [arg for arg in split_args(text, path) if key(arg) not in MANAGED_KEYS]


def effective_args(options, image):
    """The entry OPTIONS' arguments minus the node-managed ones (IMAGE: the image's)."""
    args = [arg for arg in split_args(options, strict=False) if key(arg) not in MANAGED_KEYS]
    if not any(key(arg) == "panic" for arg in image) and NODE_PANIC in args:
        args.remove(NODE_PANIC)
    return args


def local_changes(image, effective):
    """(added, removed): EFFECTIVE against IMAGE, each counted once, in order."""
    remaining = list(image)
    added = []
    for arg in effective:
        if arg in remaining:
            remaining.remove(arg)
        else:
            added.append(arg)
    return added, remaining


def merge(old_image, new_image, effective):
    """The arguments an update gives the new layer, before the node's own.

    OLD_IMAGE and NEW_IMAGE are the two images' arguments, EFFECTIVE the
    running layer's (effective_args). The local changes (EFFECTIVE against
    OLD_IMAGE) are applied onto NEW_IMAGE: its arguments in its order minus
    the locally removed ones, then the local additions in their order. A key
    is *replaced* when a K=V was added and every image value of K removed;
    the new image's values of it are then dropped too.
    """
    added, removed = local_changes(old_image, effective)
    surviving = {key(arg) for arg in effective if arg in old_image}
    replaced = ({key(arg) for arg in added if "=" in arg} & {key(arg) for arg in removed}) \
        - surviving
    to_remove = list(removed)
    result = []
    for arg in new_image:
        if arg in to_remove:
            to_remove.remove(arg)
        elif key(arg) not in replaced:
            result.append(arg)
    for arg in added:
        if arg not in result:
            result.append(arg)
    return result


def for_update(old_root, new_root, options):
    """(the new image's arguments, the new layer's before the node's own) for an update
    from the layer booted with OPTIONS on the base mounted at OLD_ROOT to NEW_ROOT."""
    old_image, new_image = read_image_args(old_root), read_image_args(new_root)
    return new_image, merge(old_image, new_image, effective_args(options, old_image))


def _refuse_managed(arg, option):
    if key(arg) in MANAGED_KEYS:
        raise NodeError(f"{option} {arg}: {key(arg)}= is set by the node for each layer "
                        f"({', '.join(k + '=' for k in MANAGED_KEYS[:4])} are not yours to "
                        "change)")


def edit(effective, append=(), delete=(), replace=()):
    """EFFECTIVE after rpm-ostree style edits, in its order: replace, then delete, then append.

    --replace K=V sets the one value of K in place (K must be there, once);
    K=OLD=NEW replaces exactly K=OLD. --delete K removes every K and K=...,
    K=V exactly that; what is not there is an error. --append adds at the
    end, and an argument already there exactly is not added twice.
    """
    args = list(effective)
    for arg in replace:
        _refuse_managed(arg, "--replace")
        name, equals, value = arg.partition("=")
        if not equals:
            raise NodeError(f"--replace {arg}: give K=VALUE (or K=OLD=NEW)")
        old, sep, new = value.partition("=")
        if sep and f"{name}={old}" in args:
            args[args.index(f"{name}={old}")] = check_arg(f"{name}={new}")
            continue
        same = [index for index, item in enumerate(args) if key(item) == name]
        if not same:
            raise NodeError(f"--replace {arg}: no argument {name} to replace (use --append)")
        if len(same) > 1:
            raise NodeError(f"--replace {arg}: {name} has {len(same)} values "
                            f"({' '.join(args[i] for i in same)}); name one as "
                            f"{name}=OLD=NEW")
        args[same[0]] = check_arg(arg)
    for arg in delete:
        _refuse_managed(arg, "--delete")
        if key(arg) == "panic":
            raise NodeError(f"--delete {arg}: panic= makes a panicking kernel reboot into "
                            "GRUB's next try; change it with --replace panic=SECONDS")
        gone = [item for item in args if item == arg or ("=" not in arg and key(item) == arg)]
        if not gone:
            raise NodeError(f"--delete {arg}: the layer has no such argument")
        args = [item for item in args if item not in gone]
    for arg in append:
        _refuse_managed(check_arg(arg), "--append")
        if arg not in args:
            args.append(arg)
    return args


def target_layer(node, layer=None):
    """LAYER, or the running layer, or the default one; it must have boot entries."""
    name = layer or node.running or node.default_layer()
    if not name:
        raise NodeError("no layer to act on: the node runs no layer and has no default "
                        "entry; name one with --layer")
    if not node.entries_of(name):
        raise NodeError(f"layer {name} has no boot entry on {node.boot}")
    return name


def image_args(node, layer, read_base=None):
    """LAYER's image arguments: as recorded, else READ_BASE(node, layer) (None: unknown)."""
    recorded = node.state().image_kargs.get(layer)
    if recorded is not None:
        return list(recorded)
    return read_base(node, layer) if read_base else None


def read_base_args(node, layer):
    """LAYER's image arguments read from its base (mounted read-only); None without one."""
    from org_ovirt_node.lifecycle.roots import mounted_base  # pylint: disable=import-outside-toplevel
    base = node.layers().get(layer)
    if not base or base not in node.bases():
        return None
    with mounted_base(node, base) as root:
        return read_image_args(root)


def summary(options, image):
    """{"image", "local": {"added", "removed"}, "effective"} of entry OPTIONS and IMAGE's
    arguments (None when unknown: then so are the local changes)."""
    effective = effective_args(options, image or [])
    local = None
    if image is not None:
        added, removed = local_changes(image, effective)
        local = {"added": added, "removed": removed}
    return {"image": image, "local": local, "effective": effective}


def describe(node, layer, image):
    """What `kargs` shows of LAYER: its entries, summary() of the first, its options."""
    entries = node.entries_of(layer)
    options = entries[0].options if entries else ""
    return {"layer": layer, "entries": [entry.entry_id for entry in entries],
            **summary(options, image), "options": options}


def render(result):
    """Human text of describe()'s RESULT."""
    local = result["local"]
    lines = [f"Kernel arguments of {result['layer']} ({', '.join(result['entries'])})",
             "  image:   " + (" ".join(result["image"]) if result["image"] is not None
                              else "unknown (not recorded, no base to read)")]
    if local is not None:
        lines += ["  added:   " + (" ".join(local["added"]) or "-"),
                  "  removed: " + (" ".join(local["removed"]) or "-")]
    lines.append("  options: " + result["options"])
    return "\n".join(lines)


def rewrite_entries(node, layer, effective):
    """Give every entry of LAYER the options: its own node-managed ones, then EFFECTIVE.

    Each entry file is replaced atomically with only its options line
    changed; grub.cfg is generated again. Returns the new options.
    """
    options = None
    for entry in node.entries_of(layer):
        managed = [arg for arg in split_args(entry.options, strict=False)
                   if key(arg) in MANAGED_KEYS]
        args = managed + list(effective)
        if not any(key(arg) == "panic" for arg in args):
            args.append(NODE_PANIC)
        options = " ".join(args)
        path = os.path.join(node.boot, "loader", "entries", f"{entry.entry_id}.conf")
        with open(path, encoding="utf-8") as handle:
            lines = handle.read(65536).splitlines()
        kept = [line for line in lines if line.strip().partition(" ")[0] != "options"]
        at = next((i for i, line in enumerate(lines)
                   if line.strip().partition(" ")[0] == "options"), len(kept))
        kept.insert(min(at, len(kept)), f"options {options}")
        write_atomic(path, ("\n".join(kept) + "\n").encode("utf-8"))
    grubcfg.refresh(node.boot)
    return options
