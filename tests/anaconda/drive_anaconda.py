"""Run inside Anaconda's environment (PYTHONPATH on its sources, its bus up):
drive the add-on through Anaconda's own code and print what happened as one
JSON line. Started by test_anaconda.py; never imported by the test process.

    python drive_anaconda.py ADDONS_DIR LOCALE_DIR GOOD_KS BAD_KS BAD_CHECKSUM_KS BODY_LINE_KS

1. the boss is activated and starts the modules (StartModulesWithTask), which
   D-Bus-activates the add-on through its .service file and start-module;
2. the boss reads each kickstart file (ReadKickstartFile) and the report is
   kept, with the text Anaconda's UI shows for each error (str(message));
3. the boss's configure and install tasks are run by Anaconda's task proxy
   helper (sync_run_task), as the installer runs them;
4. the TUI spoke is collected from ADDONS_DIR by Anaconda's UI collection
   (collect_addon_ui_paths, a TUIHub's categories and spokes), set up by the
   hub and rendered by simpleline, hub entry and spoke screen; then again
   after the language changed to German (LOCALE_DIR holds the add-on's
   catalog for it).
"""

import json
import os
import sys
import traceback


def report_of(boss, path):
    from pyanaconda.modules.common.structures.kickstart import KickstartReport
    report = KickstartReport.from_structure(boss.ReadKickstartFile(path))
    return {kind: [{"line": message.line_number, "file": message.file_name,
                    "module": message.module_name, "shown": str(message)}
                   for message in messages]
            for kind, messages in (("errors", report.error_messages),
                                   ("warnings", report.warning_messages))}


def run_tasks(bus, pairs, service_name):
    from pyanaconda.modules.common.task import sync_run_task
    results = []
    for service, path in pairs:
        if service != service_name:
            continue
        proxy = bus.get_proxy(service, path)
        outcome = {"name": proxy.Name, "steps": proxy.Steps}
        try:
            sync_run_task(proxy)
            outcome["result"] = "succeeded"
        except Exception as error:  # pylint: disable=broad-except
            outcome["result"] = "failed"
            outcome["error"] = f"{type(error).__name__}: {error}"
        try:
            proxy.GetResult()
            outcome["get_result"] = "a result"
        except Exception as error:  # pylint: disable=broad-except
            outcome["get_result"] = type(error).__name__
        results.append(outcome)
    return results


def render(widget, width=80):
    widget.render(width)
    return "\n".join(widget.get_lines())


def tui(addons_dir, locale_dir):
    from simpleline import App
    from pyanaconda.ui.lib.addons import collect_addon_ui_paths
    from pyanaconda.ui.tui import TextUserInterface
    from pyanaconda.ui.tui.hubs import TUIHub

    App.initialize()
    addon_paths = collect_addon_ui_paths([addons_dir], "tui")

    class NodeTestHub(TUIHub):
        """A hub showing the System category, as the summary hub does."""

        def __init__(self):
            super().__init__(None, None, None)
            self.title = "Installation"

    hub = NodeTestHub()
    hub.set_path("spokes", addon_paths["spokes"])
    hub.set_path("categories", TextUserInterface.paths["categories"] + addon_paths["categories"])
    shown = hub.setup("anaconda")
    spokes = list(hub._spokes.values())  # pylint: disable=protected-access
    hub.refresh()
    result = {"spoke_paths": [mask for mask, _path in addon_paths["spokes"]],
              "hub_shows_spokes": shown, "hub": render(hub.window),
              "spokes": [type(spoke).__module__ + "." + type(spoke).__name__ for spoke in spokes]}
    for spoke in spokes:
        spoke.refresh()
        result["screen"] = render(spoke.window)
        result["title"], result["status"] = spoke.title, spoke.status
        result["completed"] = spoke.completed
    # The user picks another language after the spokes exist (Anaconda sets
    # LANG): the hub and the spoke show the add-on's catalog for it.
    from org_ovirt_node.ui import i18n
    i18n.LOCALE_DIR = locale_dir
    os.environ["LANG"] = "de_DE.UTF-8"
    hub.refresh()
    result["hub_de"] = render(hub.window)
    for spoke in spokes:
        spoke.refresh()
        result["screen_de"] = render(spoke.window)
    return result


def main(addons_dir, locale_dir, good, bad, bad_checksum, body_line):
    from dasbus.constants import DBUS_FLAG_NONE
    from pyanaconda.core.dbus import DBus
    from pyanaconda.modules.common.constants.services import BOSS
    from pyanaconda.modules.common.errors import register_errors
    from pyanaconda.modules.common.task import sync_run_task

    from org_ovirt_node import dbus_ids

    register_errors()
    result = {}
    DBus.proxy.StartServiceByName(BOSS.service_name, DBUS_FLAG_NONE)
    boss = BOSS.get_proxy()
    sync_run_task(BOSS.get_proxy(boss.StartModulesWithTask()))
    result["modules"] = list(boss.GetModules())
    node = DBus.get_proxy(dbus_ids.SERVICE_NAME, dbus_ids.OBJECT_PATH)
    result["kickstarted_before"] = node.Kickstarted

    result["bad"] = report_of(boss, bad)
    result["body_line"] = report_of(boss, body_line)
    result["good"] = report_of(boss, good)
    result["kickstarted"] = node.Kickstarted
    result["generated"] = boss.GenerateKickstart()
    result["configure"] = run_tasks(DBus, boss.CollectConfigureRuntimeTasks(),
                                    dbus_ids.SERVICE_NAME)
    result["install"] = run_tasks(DBus, boss.CollectInstallSystemTasks(), dbus_ids.SERVICE_NAME)
    result["bad_checksum"] = report_of(boss, bad_checksum)
    result["configure_bad_checksum"] = run_tasks(DBus, boss.CollectConfigureRuntimeTasks(),
                                                 dbus_ids.SERVICE_NAME)
    result["tui"] = tui(addons_dir, locale_dir)
    boss.Quit()
    return result


if __name__ == "__main__":
    try:
        print(json.dumps(main(*sys.argv[1:7])))
    except Exception:  # pylint: disable=broad-except
        traceback.print_exc()
        sys.exit(1)
