"""The node settings as a simpleline form, and a screen that shows only it.

NodeTextForm fills any simpleline window (the standalone NodeScreen's or the
Anaconda spoke's) and acts on the numbered choices; how a value is read is
given to it, because Anaconda reads values through its own dialogs.
"""

from simpleline.render.containers import ListColumnContainer
from simpleline.render.screen import InputState, UIScreen
from simpleline.render.widgets import EntryWidget, TextWidget

from org_ovirt_node.ui.i18n import N_, TranslatedText, _
from org_ovirt_node.ui.presenter import PROFILES, profile_description

TITLE = N_("oVirt Node installation")


class NodeTextForm:
    """Numbered entries for the image, names, profile and volume sizes,
    followed by the planned layout and its problems.

    ASK(prompt) returns one line the user typed.
    """

    def __init__(self, presenter, ask):
        self._presenter = presenter
        self._ask = ask
        self._container = None
        self._message = ""
        self.view = None

    def refresh(self):
        """Read the settings and the layout from the service again."""
        self.view = self._presenter.view()

    def fill(self, window):
        """Add the form to WINDOW (a simpleline WindowContainer)."""
        view = self.view
        self._container = ListColumnContainer(columns=1)
        add = self._container.add
        add(EntryWidget(_("Image URL"), view.image_url or _("not set")), self._edit_image)
        add(EntryWidget(_("Image checksum"), view.checksum or _("not verified")),
            self._edit_checksum)
        add(EntryWidget(_("Volume group and thin pool"),
                        f"{view.volume_group} / {view.thin_pool}"), self._edit_names)
        add(EntryWidget(_("Volume profile"), profile_description(view.profile)),
            self._edit_profile)
        # One line per volume, so the NIST set still fits one terminal page.
        for mount_point, size in view.volumes:
            add(TextWidget(f"{mount_point:<16} {size:>10}"), self._edit_size, mount_point)
        add(TextWidget(_("Add a volume")), self._add_volume)
        window.add_with_separator(self._container)
        window.add_with_separator(TextWidget(self._layout_text()))
        if view.problems:
            window.add_with_separator(TextWidget(
                "\n".join([_("Problems:")] + [" - " + problem for problem in view.problems])))
        if self._message:
            window.add_with_separator(TextWidget(self._message))
            self._message = ""

    def process(self, key):
        """Act on KEY if it picks an entry; True when it did."""
        return self._container.process_user_input(key)

    def _layout_text(self):
        if not self.view.layout:
            return _("Planned layout: none yet")
        lines = [_("Planned layout:")]
        for row in self.view.layout:
            lines.append(f"  {row.role:<8} {row.name:<36} {row.size:>10}  {row.mount_point}")
        return "\n".join(lines)

    def _show(self, refusal):
        """Keep REFUSAL ("" when accepted) for the next drawing and re-read the state."""
        self._message = refusal
        self.refresh()

    def _edit_image(self, _data):
        url = self._ask(_("Image URL (file://, http://, https://, hd: or nfs:)"))
        self._show(self._presenter.set_image(url, self.view.checksum))

    def _edit_checksum(self, _data):
        if not self.view.image_url:
            self._show(_("Set the image URL first."))
            return
        checksum = self._ask(_("Checksum as sha256:HEX (empty: do not verify)"))
        self._show(self._presenter.set_image(self.view.image_url, checksum))

    def _edit_names(self, _data):
        volume_group = self._ask(_("Volume group name")) or self.view.volume_group
        thin_pool = self._ask(_("Thin pool name")) or self.view.thin_pool
        self._show(self._presenter.set_names(volume_group, thin_pool))

    def _edit_profile(self, _data):
        names = ", ".join(name for name, _text in PROFILES)
        profile = self._ask(_("Volume profile ({names})").format(names=names))
        self._show(self._presenter.set_profile(profile.strip()) if profile.strip() else "")

    def _edit_size(self, mount_point):
        size = self._ask(_("Size of {mount_point} (e.g. 16 GiB; 0 keeps it in the root "
                           "volume)").format(mount_point=mount_point)).strip()
        if size == "0":
            self._show(self._presenter.remove_volume(mount_point))
        elif size:
            self._show(self._presenter.set_volume_size(mount_point, size))

    def _add_volume(self, _data):
        mount_point = self._ask(_("Mount point of the new volume")).strip()
        if mount_point:
            self._edit_size(mount_point)


class NodeScreen(UIScreen):
    """The form as a screen of its own: `c` leaves it, `r` reads it again."""

    # Translated when shown (simpleline's window reads _title).
    title = _title = TranslatedText(TITLE)

    def __init__(self, presenter):
        super().__init__()
        self.form = NodeTextForm(presenter, lambda prompt: self.get_user_input(prompt + ": "))

    def refresh(self, args=None):
        super().refresh(args)
        self.form.refresh()
        self.form.fill(self.window)

    def input(self, args, key):
        if self.form.process(key):
            return InputState.PROCESSED_AND_REDRAW
        return key
