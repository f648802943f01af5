"""Typed D-Bus structures: the one vocabulary of the service and its callers.

KickstartMessage and KickstartReport carry the same field names as Anaconda's
(module-name, file-name, line-number, message; error-messages,
warning-messages), so the boss reads our report like any module's. The other
structures are ours: the node settings a spoke shows and the computed layout.
"""

from dasbus.structure import DBusData
from dasbus.typing import List, Str, UInt32, UInt64


class KickstartMessage(DBusData):
    """One error or warning about the kickstart, at a line of the text read."""

    def __init__(self):
        self._module_name = ""
        self._file_name = ""
        self._line_number = 0
        self._message = ""

    @property
    def module_name(self) -> Str:
        """The D-Bus name of the module (the boss fills it in)."""
        return self._module_name

    @module_name.setter
    def module_name(self, value: Str):
        self._module_name = value

    @property
    def file_name(self) -> Str:
        """The file of the line (the boss fills it in for the text it split)."""
        return self._file_name

    @file_name.setter
    def file_name(self, value: Str):
        self._file_name = value

    @property
    def line_number(self) -> UInt32:
        """1-based line of the text given to ReadKickstart (UInt32, as Anaconda types it)."""
        return UInt32(self._line_number)

    @line_number.setter
    def line_number(self, value: UInt32):
        self._line_number = value

    @property
    def message(self) -> Str:
        """What is wrong, in one line."""
        return self._message

    @message.setter
    def message(self, value: Str):
        self._message = value


class KickstartReport(DBusData):
    """Everything found while reading a kickstart; valid when no errors."""

    def __init__(self):
        self._error_messages = []
        self._warning_messages = []

    @property
    def error_messages(self) -> List[KickstartMessage]:
        """Problems that make the kickstart unusable."""
        return self._error_messages

    @error_messages.setter
    def error_messages(self, messages: List[KickstartMessage]):
        self._error_messages = list(messages)

    @property
    def warning_messages(self) -> List[KickstartMessage]:
        """Problems the install survives."""
        return self._warning_messages

    @warning_messages.setter
    def warning_messages(self, messages: List[KickstartMessage]):
        self._warning_messages = list(messages)


class PlannedDeviceData(DBusData):
    """One device of a computed layout (install.plan.PlannedDevice on the bus)."""

    def __init__(self):
        self._role = ""
        self._name = ""
        self._size = 0
        self._fstype = ""
        self._mount_point = ""
        self._parent = ""

    @property
    def role(self) -> Str:
        """biosboot, efi, boot, pv, vg, pool, swap, base, layer or volume."""
        return self._role

    @role.setter
    def role(self, value: Str):
        self._role = value

    @property
    def name(self) -> Str:
        """Device name (vda1, onn, pool00, var_log ...)."""
        return self._name

    @name.setter
    def name(self, value: Str):
        self._name = value

    @property
    def size(self) -> UInt64:
        """Bytes; the virtual size for thin volumes."""
        return self._size

    @size.setter
    def size(self, value: UInt64):
        self._size = value

    @property
    def fstype(self) -> Str:
        """Filesystem, or empty."""
        return self._fstype

    @fstype.setter
    def fstype(self, value: Str):
        self._fstype = value

    @property
    def mount_point(self) -> Str:
        """Mount point, or empty."""
        return self._mount_point

    @mount_point.setter
    def mount_point(self, value: Str):
        self._mount_point = value

    @property
    def parent(self) -> Str:
        """The disk, VG or pool it is carved from."""
        return self._parent

    @parent.setter
    def parent(self, value: Str):
        self._parent = value


class PlanData(DBusData):
    """A computed layout, or the problems that prevent one.

    devices is empty when the layout could not be computed at all; problems
    then says why (unreadable disk, image not local yet, ...).
    """

    def __init__(self):
        self._nvr = ""
        self._layer = ""
        self._devices = []
        self._problems = []

    @property
    def nvr(self) -> Str:
        """The image's name-version-release."""
        return self._nvr

    @nvr.setter
    def nvr(self, value: Str):
        self._nvr = value

    @property
    def layer(self) -> Str:
        """The layer the node will boot."""
        return self._layer

    @layer.setter
    def layer(self, value: Str):
        self._layer = value

    @property
    def devices(self) -> List[PlannedDeviceData]:
        """Devices in creation order."""
        return self._devices

    @devices.setter
    def devices(self, value: List[PlannedDeviceData]):
        self._devices = list(value)

    @property
    def problems(self) -> List[Str]:
        """Why the layout does not fit or could not be computed."""
        return self._problems

    @problems.setter
    def problems(self, value: List[Str]):
        self._problems = list(value)
