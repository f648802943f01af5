// "Reboot now" after an update or a rollback, and the wait for the node.
//
// A reboot ends this Cockpit session (cockpit-ws runs on the node), so the
// page says that it waits, polls the node's web server, and reloads the
// whole window once the node answers again after having been away: Cockpit
// then asks for the login, and brings the user back to this page.

import React, { useEffect, useState } from "react";

import { Alert } from "@patternfly/react-core/dist/esm/components/Alert/index.js";
import { Button } from "@patternfly/react-core/dist/esm/components/Button/index.js";
import { EmptyState, EmptyStateBody, EmptyStateHeader, EmptyStateIcon } from "@patternfly/react-core/dist/esm/components/EmptyState/index.js";
import { Spinner } from "@patternfly/react-core/dist/esm/components/Spinner/index.js";

const cockpit = window.cockpit;
const _ = cockpit.gettext;
const POLL_MS = 3000;

// The node answers HTTP again (any answer counts: the login page is one).
function answers() {
    return fetch(window.location.origin + "/cockpit/login", { cache: "no-store", credentials: "omit" })
            .then(() => true, () => false);
}

export function RebootButton({ onReboot }) {
    return (
        <Button id="reboot" variant="primary" size="sm" onClick={onReboot}>{_("Reboot now")}</Button>
    );
}

export function reboot() {
    return cockpit.spawn(["systemctl", "reboot"], { superuser: "require", err: "message" });
}

// Shown from the click on "Reboot now" until the window reloads.
export function Rebooting({ error }) {
    const [phase, setPhase] = useState("going");
    useEffect(() => {
        let away = false;
        let timer = null;
        const poll = () => {
            answers().then(up => {
                if (!up) {
                    away = true;
                    setPhase("away");
                } else if (away) {
                    setPhase("back");
                    window.top.location.reload();
                    return;
                }
                timer = setTimeout(poll, POLL_MS);
            });
        };
        timer = setTimeout(poll, POLL_MS);
        return () => clearTimeout(timer);
    }, []);
    if (error)
        return <Alert id="reboot-error" variant="danger" isInline title={error} className="onode-alert" />;
    return (
        <EmptyState id="rebooting" data-phase={phase}>
            <EmptyStateHeader titleText={_("Rebooting")} headingLevel="h2"
                              icon={<EmptyStateIcon icon={Spinner} />} />
            <EmptyStateBody>
                {phase === "going"
                    ? _("The node is shutting down. This page waits for it and reconnects when it is back.")
                    : _("Waiting for the node to come back. This page reconnects by itself; you will be asked to log in again.")}
            </EmptyStateBody>
        </EmptyState>
    );
}
