"""The update journal: what an update created, written before it creates it.

An update writes /boot/ovirt-node/update.json before its first write and
adds each LV, kernel directory and boot entry to it before making them. If
the update fails, it removes exactly those; if it is killed, the next update
(or `gc`) finds the journal and does the same, and `check` names them. The
journal is removed right after the switch: an update whose new layer is
already the default when its journal is found had finished.
"""

import json
import os

from org_ovirt_node.lifecycle import removal
from org_ovirt_node.util.atomic import remove_durably, write_atomic
from org_ovirt_node.util.jsonfile import read_json

JOURNAL = os.path.join("ovirt-node", "update.json")


class Journal:
    """The journal of one update run, kept on the node's /boot."""

    def __init__(self, node, nvr, layer):
        self.node = node
        self.data = {"nvr": nvr, "layer": layer, "lvs": [], "boot": []}

    def begin(self):
        """Record that an update started; nothing is created yet."""
        self._save()

    def will_create_lv(self, name):
        """Record LV NAME before creating it."""
        self.data["lvs"].append(name)
        self._save()

    def will_write_boot(self, layer):
        """Record LAYER's boot files (kernel dir, entries) before writing them."""
        self.data["boot"].append(layer)
        self._save()

    def finish(self):
        """The switch happened: nothing is left to undo."""
        remove_durably(path_on(self.node.boot))

    def _save(self):
        write_atomic(path_on(self.node.boot), json.dumps(self.data).encode("utf-8"))


def path_on(boot):
    """The journal's path on the /boot filesystem mounted at BOOT."""
    return os.path.join(boot, JOURNAL)


def read(node):
    """The journal of an unfinished update on NODE, or None."""
    data = read_json(path_on(node.boot), "update journal")
    return data if isinstance(data, dict) else None


def leftovers(node, data):
    """What an unfinished update left, as text items (none when it had switched)."""
    if data.get("layer") and node.default_layer() == data["layer"]:
        return []
    names = {row["lv_name"] for row in node.lvs()}
    items = [f"LV {node.vg}/{name}" for name in data.get("lvs", []) if name in names]
    for layer in data.get("boot", []):
        items += [f"boot entry {entry.entry_id}" for entry in node.entries_of(layer)]
        if os.path.isdir(os.path.join(node.boot, layer)):
            items.append(f"/boot/{layer}")
    return items


def undo(node, data):
    """Remove what the update of DATA created unless it had switched; return what went."""
    removed = []
    if not (data.get("layer") and node.default_layer() == data["layer"]):
        for layer in data.get("boot", []):
            removed += removal.remove_boot_files(node, layer)
        for name in reversed(data.get("lvs", [])):
            removed += removal.remove_lv(node, name)
    remove_durably(path_on(node.boot))
    return removed
