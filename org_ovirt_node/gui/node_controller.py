"""The node spoke's widgets, filled from a NodeView and sending the edits.

NodeController needs only a Gtk.Builder holding the widgets of
spokes/ovirt_node.glade, so it runs in Anaconda's spoke and in plain GTK.
It connects its own signals: Anaconda connects the glade's handlers to the
spoke object, and the spoke should stay glue.
"""

from org_ovirt_node.ui.i18n import _
from org_ovirt_node.ui.presenter import PROFILES


class NodeController:
    """Shows the settings, volumes, layout and problems; every edit goes to
    the service at once and is followed by a fresh view."""

    def __init__(self, builder, presenter):
        get = builder.get_object
        self._presenter = presenter
        self._image_url, self._checksum = get("imageUrlEntry"), get("checksumEntry")
        self._volume_group, self._thin_pool = get("volumeGroupEntry"), get("thinPoolEntry")
        self._profile = get("profileCombo")
        self._volumes, self._volume_selection = get("volumeStore"), get("volumeSelection")
        self._new_mount, self._new_size = get("newMountEntry"), get("newSizeEntry")
        self._layout = get("layoutStore")
        self._problems, self._message = get("problemsLabel"), get("messageLabel")
        get("applyButton").connect("clicked", self._on_apply)
        self._profile_changed = self._profile.connect("changed", self._on_profile_changed)
        get("sizeRenderer").connect("edited", self._on_size_edited)
        get("addVolumeButton").connect("clicked", self._on_add_volume)
        get("removeVolumeButton").connect("clicked", self._on_remove_volume)
        self.view = None

    def refresh(self):
        """Show what the service holds now and the layout it gives."""
        view = self.view = self._presenter.view()
        self._image_url.set_text(view.image_url)
        self._checksum.set_text(view.checksum)
        self._volume_group.set_text(view.volume_group)
        self._thin_pool.set_text(view.thin_pool)
        with self._profile.handler_block(self._profile_changed):
            # Filled at each refresh, in the language chosen by then.
            self._profile.remove_all()
            for name, description in PROFILES:
                self._profile.append(name, _(description))
            self._profile.set_active_id(view.profile)
        self._volumes.clear()
        for mount_point, size in view.volumes:
            self._volumes.append([mount_point, size])
        self._layout.clear()
        for row in view.layout:
            self._layout.append([row.role, row.name, row.size, row.fstype, row.mount_point])
        self._problems.set_text("\n".join(view.problems) if view.problems
                                else _("The layout fits the selected disks."))

    def _show(self, refusal):
        """Re-read the state and say why an edit was refused ("" if it was not)."""
        self.refresh()
        self._message.set_text(refusal)

    def _on_apply(self, _button):
        refusal = self._presenter.set_image(self._image_url.get_text(),
                                            self._checksum.get_text())
        refusal = refusal or self._presenter.set_names(self._volume_group.get_text(),
                                                       self._thin_pool.get_text())
        self._show(refusal)

    def _on_profile_changed(self, combo):
        self._show(self._presenter.set_profile(combo.get_active_id()))

    def _on_size_edited(self, _renderer, path, size):
        self._show(self._presenter.set_volume_size(self._volumes[path][0], size))

    def _on_add_volume(self, _button):
        refusal = self._presenter.set_volume_size(self._new_mount.get_text(),
                                                  self._new_size.get_text())
        if not refusal:
            self._new_mount.set_text("")
            self._new_size.set_text("")
        self._show(refusal)

    def _on_remove_volume(self, _button):
        model, selected = self._volume_selection.get_selected()
        if selected is None:
            self._show(_("Select the volume to remove."))
            return
        self._show(self._presenter.remove_volume(model[selected][0]))
