"""D-Bus names shared by the add-on service and its spokes.

The service and interface names are what Anaconda's boss looks for: add-ons
live under org.fedoraproject.Anaconda.Addons, the kickstart-module protocol is
the interface Anaconda's KickstartModuleInterface declares
(org.fedoraproject.Anaconda.Modules) and tasks speak
org.fedoraproject.Anaconda.Task. Node-specific calls for the spokes have their
own interface so they never collide with the protocol.
"""

NAMESPACE = ("org", "fedoraproject", "Anaconda", "Addons", "OvirtNode")
SERVICE_NAME = "org.fedoraproject.Anaconda.Addons.OvirtNode"
OBJECT_PATH = "/org/fedoraproject/Anaconda/Addons/OvirtNode"

# Anaconda's KICKSTART_MODULE identifier: the Modules namespace, no base name.
KICKSTART_MODULE_INTERFACE = "org.fedoraproject.Anaconda.Modules"
TASK_INTERFACE = "org.fedoraproject.Anaconda.Task"
NODE_INTERFACE = SERVICE_NAME

# Tasks are published as OBJECT_PATH/Task/<n>.
TASK_BASENAME = "Task"

# D-Bus error name for NodeError (bad values from a spoke, failed tasks).
NODE_ERROR = SERVICE_NAME + ".Error"
# Anaconda's error for Task.GetResult of a task without a result.
NO_RESULT_ERROR = "org.fedoraproject.Anaconda.NoResultError"

# Environment variables naming the bus, in the order the service tries them.
BUS_ADDRESS_VARIABLES = ("DBUS_ANACONDA_SESSION_BUS_ADDRESS", "DBUS_STARTER_ADDRESS")
