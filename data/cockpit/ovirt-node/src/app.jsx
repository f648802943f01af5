// The oVirt Node page: what `ovirt-node status/check --json` report, and the
// lifecycle commands behind confirmations. Every number, flag and decision
// comes from the CLI's JSON; the page only lays it out.

import React, { useCallback, useEffect, useRef, useState } from "react";

import { Alert, AlertActionCloseButton } from "@patternfly/react-core/dist/esm/components/Alert/index.js";
import { Button } from "@patternfly/react-core/dist/esm/components/Button/index.js";
import { EmptyState, EmptyStateBody, EmptyStateHeader } from "@patternfly/react-core/dist/esm/components/EmptyState/index.js";
import { Card, CardBody, CardTitle } from "@patternfly/react-core/dist/esm/components/Card/index.js";
import { DescriptionList, DescriptionListDescription, DescriptionListGroup, DescriptionListTerm } from "@patternfly/react-core/dist/esm/components/DescriptionList/index.js";
import { Label, LabelGroup } from "@patternfly/react-core/dist/esm/components/Label/index.js";
import { Page, PageSection } from "@patternfly/react-core/dist/esm/components/Page/index.js";
import { Spinner } from "@patternfly/react-core/dist/esm/components/Spinner/index.js";
import { Title } from "@patternfly/react-core/dist/esm/components/Title/index.js";

import { CommandError, run } from "./cli.js";
import { Gauge } from "./gauge.jsx";
import { ConfirmModal, GcModal, RollbackModal, UpdateModal } from "./actions.jsx";
import { useAdminAccess } from "./access.js";
import { RebootButton, Rebooting, reboot } from "./reboot.jsx";

const cockpit = window.cockpit;
const _ = cockpit.gettext;

// The thin pool profile's autoextend mark (imgbased-pool: at 70 %); where
// check warns and fails comes with the pool in status --json.
const AUTOEXTEND = 70;

export const bytes = value => (value === null || value === undefined)
    ? "" : cockpit.format_bytes(value, 1024);
const percent = value => (value === null || value === undefined)
    ? _("n/a") : cockpit.format(_("$0 %"), value.toFixed(1));

function layerFlags(layer) {
    const flags = [];
    if (layer.running)
        flags.push(["running", _("Booted"), "blue"]);
    if (layer.default)
        flags.push(["default", _("Boot default"), "green"]);
    if (layer.fallback)
        flags.push(["fallback", _("Fallback"), "cyan"]);
    if (layer.last_known_good)
        flags.push(["lkg", _("Last known good"), "grey"]);
    if (layer.pinned)
        flags.push(["pinned", _("Pinned"), "purple"]);
    if (layer.bad)
        flags.push(["bad", _("Bad"), "red"]);
    return flags;
}

const CHECK_LABEL = {
    ok: [_("OK"), "green"],
    warning: [_("Warning"), "orange"],
    failed: [_("Failed"), "red"],
};

// What one autoextend (20 % of the pool) takes of the VG's free space: with
// less free than that, the "Autoextend at 70 %" mark is a promise LVM cannot keep.
function AutoextendRoom({ free, step }) {
    if (step === undefined || step === null)
        return null;
    const short = free < step;
    return (
        <span id="vg-autoextend" className={short ? "onode-vg-short" : ""}>
            {" "}
            {cockpit.format(short
                ? _("(too little: one autoextend needs $0)")
                : _("(one autoextend needs $0)"), bytes(step))}
        </span>
    );
}

function PoolCard({ status }) {
    const pool = status.pool;
    return (
        <Card id="pool" isFullHeight>
            <CardTitle component="h2">{_("Space")}</CardTitle>
            <CardBody>
                {pool
                    ? <>
                        <Gauge id="pool-data" label={cockpit.format(_("Thin pool $0 data"), pool.name)}
                               value={pool.data_percent} text={percent(pool.data_percent)}
                               detail={cockpit.format(_("of $0"), bytes(pool.size))}
                               autoextend={AUTOEXTEND} warning={pool.warn_percent}
                               failure={pool.fail_percent} />
                        <Gauge id="pool-metadata" label={cockpit.format(_("Thin pool $0 metadata"), pool.name)}
                               value={pool.metadata_percent} text={percent(pool.metadata_percent)}
                               detail={cockpit.format(_("of $0"), bytes(pool.metadata_size))}
                               autoextend={AUTOEXTEND} warning={pool.warn_percent}
                               failure={pool.fail_percent} />
                    </>
                    : <p>{_("No thin pool found.")}</p>}
                <DescriptionList isHorizontal isCompact className="onode-vg">
                    <DescriptionListGroup>
                        <DescriptionListTerm>{_("Volume group")}</DescriptionListTerm>
                        <DescriptionListDescription id="vg-name">{status.vg.name}</DescriptionListDescription>
                    </DescriptionListGroup>
                    <DescriptionListGroup>
                        <DescriptionListTerm>{_("VG size")}</DescriptionListTerm>
                        <DescriptionListDescription>{bytes(status.vg.size)}</DescriptionListDescription>
                    </DescriptionListGroup>
                    <DescriptionListGroup>
                        <DescriptionListTerm>{_("VG free")}</DescriptionListTerm>
                        <DescriptionListDescription id="vg-free">
                            {bytes(status.vg.free)}
                            {pool && <AutoextendRoom free={status.vg.free} step={pool.autoextend_step} />}
                        </DescriptionListDescription>
                    </DescriptionListGroup>
                </DescriptionList>
            </CardBody>
        </Card>
    );
}

function HealthCard({ checks, error }) {
    let body;
    if (error)
        body = <Alert variant="danger" isInline isPlain title={error} />;
    else if (!checks)
        body = <Spinner size="lg" aria-label={_("Checking the node")} />;
    else
        body = (
            <ul className="onode-checks" aria-label={_("Health checks")}>
                {checks.map(check => {
                    const [text, color] = CHECK_LABEL[check.status] || [check.status, "grey"];
                    return (
                        <li key={check.name} data-check={check.name} data-status={check.status}>
                            <Label color={color} className="onode-check-status">{text}</Label>
                            <span className="onode-check-name">{check.name}</span>
                            {check.reason && <span className="onode-check-reason">{check.reason}</span>}
                        </li>
                    );
                })}
            </ul>
        );
    return (
        <Card id="health" isFullHeight>
            <CardTitle component="h2">{_("Health")}</CardTitle>
            <CardBody>{body}</CardBody>
        </Card>
    );
}

// os-release's own display name, as the CLI's JSON gives it
function osName(release) {
    if (!release)
        return "";
    return release.PRETTY_NAME || [release.NAME, release.VERSION_ID].filter(Boolean).join(" ");
}

// who signed the layer's image, as install or update verified it (status JSON)
function Signature({ layer }) {
    if (!layer.signature_policy)
        return null;
    const signer = layer.signed_by;
    if (!signer)
        return (
            <small className="onode-signature" data-signed="no">
                {cockpit.format(_("Signature not verified (policy $0)"), layer.signature_policy)}
            </small>
        );
    return (
        <small className="onode-signature" data-signed="yes" title={signer.fingerprint}>
            {cockpit.format(_("Signed by $0"), signer.uid || signer.fingerprint)}
        </small>
    );
}

// The layer's last recorded boot verdict (health.json, kept per layer):
// a red one names each failed check with the end of what it printed.
function LayerHealth({ health }) {
    if (!health || !health.status)
        return null;
    const red = health.status === "red";
    return (
        <div className="onode-layer-health" data-health={health.status}>
            <Label color={red ? "red" : "green"} data-flag={red ? "red-boot" : "green-boot"}>
                {red ? _("Red boot") : _("Green boot")}
            </Label>
            {red && (health.failures || []).map(failure => (
                <div key={failure.name} className="onode-failure" data-failed-check={failure.name}>
                    <span className="onode-check-name">{failure.name}</span>
                    {failure.output && <pre className="onode-check-output">{failure.output.trim()}</pre>}
                </div>
            ))}
        </div>
    );
}

function LayersCard({ status, onPin }) {
    const withOs = status.layers.some(layer => layer.os_release);
    return (
        <Card id="layers">
            <CardTitle component="h2">{_("Image layers")}</CardTitle>
            <CardBody>
                <table className="pf-v5-c-table pf-m-compact pf-m-grid-md" aria-label={_("Image layers")}>
                    <thead>
                        <tr>
                            <th scope="col">{_("Layer")}</th>
                            <th scope="col">{_("Image (NVR)")}</th>
                            {withOs && <th scope="col">{_("Operating system")}</th>}
                            <th scope="col">{_("Kernel")}</th>
                            <th scope="col">{_("State")}</th>
                            <th scope="col"><span className="pf-v5-screen-reader">{_("Actions")}</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        {status.layers.map(layer => (
                            <tr key={layer.name} data-layer={layer.name}>
                                <td data-label={_("Layer")} className="onode-layer-name">{layer.name}</td>
                                <td data-label={_("Image (NVR)")}>
                                    <div>{layer.origin}</div>
                                    <Signature layer={layer} />
                                </td>
                                {withOs && <td data-label={_("Operating system")}>{osName(layer.os_release)}</td>}
                                <td data-label={_("Kernel")}>{layer.kernels.join(", ")}</td>
                                <td data-label={_("State")}>
                                    <LabelGroup numLabels={6}>
                                        {layerFlags(layer).map(([key, text, color]) =>
                                            <Label key={key} color={color} data-flag={key}>{text}</Label>)}
                                    </LabelGroup>
                                    <LayerHealth health={layer.health} />
                                </td>
                                <td className="pf-v5-c-table__action">
                                    <Button variant="secondary" size="sm" className="onode-pin"
                                            onClick={() => onPin(layer)}>
                                        {layer.pinned ? _("Unpin") : _("Pin")}
                                    </Button>
                                </td>
                            </tr>
                        ))}
                    </tbody>
                </table>
            </CardBody>
        </Card>
    );
}

function VolumesCard({ status }) {
    return (
        <Card id="volumes">
            <CardTitle component="h2">{_("Separate volumes")}</CardTitle>
            <CardBody>
                <table className="pf-v5-c-table pf-m-compact pf-m-grid-md" aria-label={_("Separate volumes")}>
                    <thead>
                        <tr>
                            <th scope="col">{_("Mount point")}</th>
                            <th scope="col">{_("Volume")}</th>
                            <th scope="col">{_("Device")}</th>
                            <th scope="col">{_("Size")}</th>
                            <th scope="col">{_("Allocated")}</th>
                        </tr>
                    </thead>
                    <tbody>
                        {status.volumes.map(volume => (
                            <tr key={volume.name} data-volume={volume.name}>
                                <td data-label={_("Mount point")}>{volume.mount_point || ""}</td>
                                <td data-label={_("Volume")}>{volume.name}</td>
                                <td data-label={_("Device")}>{volume.path}</td>
                                <td data-label={_("Size")}>{bytes(volume.size)}</td>
                                <td data-label={_("Allocated")}>{percent(volume.data_percent)}</td>
                            </tr>
                        ))}
                    </tbody>
                </table>
            </CardBody>
        </Card>
    );
}

// Without administrative access no command can run: Cockpit's own state.
function AdminRequired() {
    return (
        <EmptyState id="admin-required">
            <EmptyStateHeader titleText={_("Administrative access required")} headingLevel="h2" />
            <EmptyStateBody>
                {_("The node's layers, pool and health are read as root. Turn on administrative access in the top bar to see and manage them.")}
            </EmptyStateBody>
        </EmptyState>
    );
}

export function Application() {
    const admin = useAdminAccess();
    return admin ? <NodePage /> : <Page><PageSection>{admin === false ? <AdminRequired /> : <Spinner size="xl" aria-label={_("Checking access")} />}</PageSection></Page>;
}

function NodePage() {
    const [status, setStatus] = useState(null);
    const [loadError, setLoadError] = useState(null);
    const [checks, setChecks] = useState(null);
    const [checksError, setChecksError] = useState(null);
    const [notice, setNotice] = useState(null);
    const [dialog, setDialog] = useState(null);
    const [rebooting, setRebooting] = useState(null);
    const marked = useRef(false);

    const loadChecks = () => {
        run(["check"]).then(data => {
            setChecks(data.checks);
            setChecksError(null);
        }, ex => {
            // `check` exits 1 when a check failed, with its results on stdout.
            if (ex instanceof CommandError && ex.data && ex.data.checks) {
                setChecks(ex.data.checks);
                setChecksError(null);
            } else {
                setChecks(null);
                setChecksError(ex.message);
            }
        });
    };

    // The overview first, then the (slower) health checks, so that they do
    // not compete for the node's CPUs while the overview loads.
    const load = useCallback(() => {
        // Marks around the CLI call, so a test can tell the page's time from the CLI's.
        window.performance.mark("ovirt-node-status-start");
        run(["status"]).then(data => {
            window.performance.mark("ovirt-node-status-end");
            setStatus(data);
            setLoadError(null);
        }, ex => setLoadError(ex.message)).finally(loadChecks);
    }, []);

    useEffect(load, [load]);

    // When the overview first shows real data: the load time the tests measure.
    useEffect(() => {
        if (status && !marked.current) {
            marked.current = true;
            window.performance.mark("ovirt-node-overview");
            document.body.setAttribute("data-overview", "shown");
        }
    }, [status]);

    // NEXT_BOOT: the command changed what boots next, so the notice offers the reboot.
    const finished = (message, nextBoot) => {
        setDialog(null);
        if (message)
            setNotice({ text: message, nextBoot: !!nextBoot });
        load();
    };

    const onReboot = () => {
        setRebooting({});
        reboot().catch(ex => setRebooting({ error: cockpit.message(ex) }));
    };

    if (rebooting)
        return <Page><PageSection><Rebooting error={rebooting.error} /></PageSection></Page>;

    const onPin = layer => setDialog({ kind: layer.pinned ? "unpin" : "pin", layer: layer.name });

    return (
        <Page>
            <PageSection variant="light">
                <header className="onode-header">
                    <Title headingLevel="h1" size="2xl">{_("oVirt Node")}</Title>
                    <div className="onode-actions">
                        <Button id="update" variant="primary" isDisabled={!status}
                                onClick={() => setDialog({ kind: "update" })}>{_("Update from image…")}</Button>
                        <Button id="rollback" variant="secondary" isDisabled={!status}
                                onClick={() => setDialog({ kind: "rollback" })}>{_("Roll back to…")}</Button>
                        <Button id="gc" variant="secondary" isDisabled={!status}
                                onClick={() => setDialog({ kind: "gc" })}>{_("Remove old images")}</Button>
                        <Button id="refresh" variant="link" onClick={load}>{_("Refresh")}</Button>
                    </div>
                </header>
            </PageSection>
            <PageSection>
                {loadError && <Alert id="load-error" variant="danger" isInline title={loadError} className="onode-alert" />}
                {notice && <Alert id="notice" variant="success" isInline title={notice.text} className="onode-alert"
                                  actionLinks={notice.nextBoot && <RebootButton onReboot={onReboot} />}
                                  actionClose={<AlertActionCloseButton onClose={() => setNotice(null)} />} />}
                {!status && !loadError && <Spinner size="xl" aria-label={_("Reading the node")} />}
                {status &&
                    <div className="onode-grid" id="overview">
                        <PoolCard status={status} />
                        <HealthCard checks={checks} error={checksError} />
                        <LayersCard status={status} onPin={onPin} />
                        <VolumesCard status={status} />
                    </div>}
            </PageSection>
            {dialog && dialog.kind === "update" &&
                <UpdateModal onClose={() => setDialog(null)} onDone={message => finished(message, true)} />}
            {dialog && dialog.kind === "rollback" &&
                <RollbackModal status={status} onClose={() => setDialog(null)}
                               onDone={message => finished(message, true)} />}
            {dialog && dialog.kind === "gc" &&
                <GcModal onClose={() => setDialog(null)} onDone={finished} />}
            {dialog && (dialog.kind === "pin" || dialog.kind === "unpin") &&
                <ConfirmModal
                    title={dialog.kind === "pin" ? _("Pin layer?") : _("Unpin layer?")}
                    body={dialog.kind === "pin"
                        ? cockpit.format(_("$0 will be kept when old images are removed."), dialog.layer)
                        : cockpit.format(_("$0 may be removed with old images again."), dialog.layer)}
                    confirm={dialog.kind === "pin" ? _("Pin") : _("Unpin")}
                    command={[dialog.kind, dialog.layer, "--yes"]}
                    done={dialog.kind === "pin"
                        ? cockpit.format(_("$0 is pinned."), dialog.layer)
                        : cockpit.format(_("$0 is no longer pinned."), dialog.layer)}
                    onClose={() => setDialog(null)} onDone={finished} />}
        </Page>
    );
}
