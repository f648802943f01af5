// Whether this session has administrative access, as Cockpit's shell tracks it.
//
// Every `ovirt-node` command needs root (it reads LVM and the boot loader),
// so without administrative access the page shows Cockpit's "administrative
// access required" state and offers no action at all. The bridge's own
// cockpit.Superuser interface says which state the session is in: its
// Current is "none" in limited access, "init" while it starts, and else the
// superuser bridge that runs (e.g. "sudo"; "root" when the login is root's);
// it signals each change. A bridge without that interface (older Cockpit)
// counts as allowed: the commands then say themselves what they lack.

import { useEffect, useState } from "react";

const cockpit = window.cockpit;

export function useAdminAccess() {
    const [current, setCurrent] = useState(null);
    useEffect(() => {
        const client = cockpit.dbus(null, { bus: "internal" });
        const superuser = client.proxy("cockpit.Superuser", "/superuser");
        const update = () => setCurrent(superuser.valid ? superuser.Current : "unknown");
        superuser.addEventListener("changed", update);
        superuser.wait(update);
        return () => {
            superuser.removeEventListener("changed", update);
            client.close();
        };
    }, []);
    // null: not known yet; true/false once the bridge answered
    return current === null || current === "init" ? null : current !== "none";
}
