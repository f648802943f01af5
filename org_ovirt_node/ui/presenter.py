"""The node spoke's logic: what to show, what is valid, what to send.

NodePresenter talks to the add-on service through a D-Bus proxy (the same
calls the installer's spokes make) and turns its answers into a NodeView of
plain strings, which the text screen and the GTK controller only display.
Bad input never raises: every setter returns the reason it was refused.
Every text from the service or the engine passes installer_text on its way
to a spoke, so none tells the user to type a command-line option.
"""

from dataclasses import dataclass, field

from dasbus.error import DBusError

from org_ovirt_node.errors import NodeError
from org_ovirt_node.service.structures import PlanData
from org_ovirt_node.service.wording import installer_text
from org_ovirt_node.sizes import format_size, parse_size
from org_ovirt_node.ui.i18n import N_, _

# Volume profiles in the order the spokes offer them, with what each means.
PROFILES = (
    ("nist", N_("NIST: seven separate volumes under /var, /home and /tmp")),
    ("minimal", N_("Minimal: a separate /var only")),
    ("none", N_("None: everything in the root volume")),
)


@dataclass
class LayoutRow:
    """One planned device as the spokes list it."""

    role: str
    name: str
    size: str
    fstype: str
    mount_point: str
    parent: str


@dataclass
class NodeView:
    """Everything a node spoke shows, as text."""

    image_url: str = ""
    checksum: str = ""
    volume_group: str = ""
    thin_pool: str = ""
    profile: str = ""
    volumes: list = field(default_factory=list)   # (mount point, size text)
    layout: list = field(default_factory=list)    # LayoutRow
    problems: list = field(default_factory=list)  # one sentence each
    complete: bool = False
    status: str = ""


class NodePresenter:
    """The node settings of one add-on service, edited and checked.

    PROXY is the service object (org.fedoraproject.Anaconda.Addons.OvirtNode);
    DISKS returns the disk paths the installer will use, asked each time the
    layout is computed because the user may change them in another spoke.
    """

    def __init__(self, proxy, disks):
        self._proxy = proxy
        self._disks = disks

    def view(self):
        """The current settings with the layout they give and its problems."""
        proxy = self._proxy
        view = NodeView(image_url=proxy.ImageURL, checksum=proxy.ImageChecksum,
                        volume_group=proxy.VolumeGroup, thin_pool=proxy.ThinPool,
                        profile=proxy.VolumeProfile)
        view.volumes = [(mount, format_size(size))
                        for mount, size in sorted(proxy.VolumeSizes.items())]
        plan = PlanData.from_structure(proxy.Plan(list(self._disks())))
        view.layout = [LayoutRow(device.role, device.name, format_size(device.size),
                                 device.fstype, device.mount_point, device.parent)
                       for device in plan.devices]
        view.problems = [installer_text(problem) for problem in plan.problems]
        view.complete = bool(view.image_url and view.layout and not view.problems)
        view.status = _status(view, plan.nvr)
        return view

    def set_image(self, url, checksum=""):
        """Use the image at URL, verified against CHECKSUM ("sha256:HEX" or "")."""
        url, checksum = url.strip(), checksum.strip()
        if not url:
            return _("Enter the URL of the node image.")
        return self._call(self._proxy.SetImage, url, checksum)

    def set_names(self, volume_group, thin_pool):
        """Name the volume group and the thin pool."""
        return self._call(self._proxy.SetNames, volume_group.strip(), thin_pool.strip())

    def set_profile(self, profile):
        """Choose a volume profile; its default sizes replace the current ones."""
        return self._call(setattr, self._proxy, "VolumeProfile", profile)

    def set_volume_size(self, mount_point, size_text):
        """Add the volume MOUNT_POINT or resize it to SIZE_TEXT (e.g. "16 GiB")."""
        try:
            size = parse_size(size_text.replace(" ", ""), default_unit="GiB")
        except NodeError as error:
            return installer_text(error.message)
        sizes = dict(self._proxy.VolumeSizes)
        sizes[mount_point.strip()] = size
        return self._call(setattr, self._proxy, "VolumeSizes", sizes)

    def remove_volume(self, mount_point):
        """Keep MOUNT_POINT in the root volume instead of a volume of its own."""
        sizes = dict(self._proxy.VolumeSizes)
        if sizes.pop(mount_point, None) is None:
            return _("There is no separate volume for {mount_point}.").format(
                mount_point=mount_point)
        return self._call(setattr, self._proxy, "VolumeSizes", sizes)

    @staticmethod
    def _call(function, *args):
        """Run one setter on the service; "" on success, else its refusal."""
        try:
            function(*args)
        except DBusError as error:
            return installer_text(str(error))
        return ""


def profile_description(profile):
    """The translated one-line description of PROFILE."""
    return next((_(text) for name, text in PROFILES if name == profile), profile)


def _status(view, nvr):
    """The one line a hub shows under the spoke's title."""
    if not view.image_url:
        return _("Node image not set")
    if not view.complete:
        return _("The layout has problems")
    return _("Install {nvr} with {profile} volumes").format(nvr=nvr, profile=view.profile)
