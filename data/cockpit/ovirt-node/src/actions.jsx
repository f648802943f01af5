// The lifecycle actions, each behind a confirmation: update (plan first,
// then the streamed progress), rollback, pin/unpin and gc. A failure shows
// the CLI's one error line in an alert inside the dialog.

import React, { useEffect, useState } from "react";

import { Alert } from "@patternfly/react-core/dist/esm/components/Alert/index.js";
import { Button } from "@patternfly/react-core/dist/esm/components/Button/index.js";
import { Form, FormGroup } from "@patternfly/react-core/dist/esm/components/Form/index.js";
import { Label } from "@patternfly/react-core/dist/esm/components/Label/index.js";
import { List, ListItem } from "@patternfly/react-core/dist/esm/components/List/index.js";
import { Modal, ModalVariant } from "@patternfly/react-core/dist/esm/components/Modal/index.js";
import { Progress } from "@patternfly/react-core/dist/esm/components/Progress/index.js";
import { Radio } from "@patternfly/react-core/dist/esm/components/Radio/index.js";
import { Spinner } from "@patternfly/react-core/dist/esm/components/Spinner/index.js";
import { TextInput } from "@patternfly/react-core/dist/esm/components/TextInput/index.js";
import { Title } from "@patternfly/react-core/dist/esm/components/Title/index.js";

import { run, stream } from "./cli.js";

const cockpit = window.cockpit;
const _ = cockpit.gettext;

function ErrorAlert({ error }) {
    return error ? <Alert variant="danger" isInline title={error} className="onode-alert onode-error" /> : null;
}

export function ConfirmModal({ title, body, confirm, command, done, onClose, onDone, danger }) {
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState(null);
    const go = () => {
        setBusy(true);
        setError(null);
        run(command).then(() => onDone(done), ex => {
            setBusy(false);
            setError(ex.message);
        });
    };
    return (
        <Modal id="confirm-dialog" variant={ModalVariant.small} isOpen title={title} onClose={onClose}
               actions={[
                   <Button key="confirm" id="confirm" variant={danger ? "danger" : "primary"}
                           isLoading={busy} isDisabled={busy} onClick={go}>{confirm}</Button>,
                   <Button key="cancel" variant="link" isDisabled={busy} onClick={onClose}>{_("Cancel")}</Button>,
               ]}>
            <ErrorAlert error={error} />
            {body}
        </Modal>
    );
}

export function RollbackModal({ status, onClose, onDone }) {
    const choices = status.layers.filter(layer => !layer.default);
    const [target, setTarget] = useState(choices.length ? choices[choices.length - 1].name : null);
    const body = choices.length
        ? <Form onSubmit={e => e.preventDefault()}>
            <FormGroup role="radiogroup" isStack fieldId="rollback-target" label={_("Layer to boot by default")}>
                {choices.map(layer => (
                    <Radio key={layer.name} id={"rollback-" + layer.name} name="rollback-target"
                           label={layer.name} isChecked={target === layer.name}
                           description={layer.kernels.join(", ")}
                           onChange={() => setTarget(layer.name)} />
                ))}
            </FormGroup>
        </Form>
        : <p>{_("There is no other layer to roll back to.")}</p>;
    if (!choices.length)
        return (
            <Modal id="confirm-dialog" variant={ModalVariant.small} isOpen title={_("Roll back to…")}
                   onClose={onClose}
                   actions={[<Button key="close" variant="primary" onClick={onClose}>{_("Close")}</Button>]}>
                {body}
            </Modal>
        );
    return (
        <ConfirmModal title={_("Roll back to…")} body={body} confirm={_("Roll back")}
                      command={["rollback", "--to", target, "--yes"]}
                      done={cockpit.format(_("$0 boots by default."), target)}
                      onClose={onClose} onDone={onDone} />
    );
}

export function GcModal({ onClose, onDone }) {
    const [plan, setPlan] = useState(null);
    const [error, setError] = useState(null);
    useEffect(() => {
        run(["gc", "--dry-run", "--yes"]).then(setPlan, ex => setError(ex.message));
    }, []);
    if (!plan)
        return (
            <Modal id="confirm-dialog" variant={ModalVariant.small} isOpen title={_("Remove old images")}
                   onClose={onClose}
                   actions={[<Button key="cancel" variant="link" onClick={onClose}>{_("Cancel")}</Button>]}>
                {error ? <ErrorAlert error={error} /> : <Spinner size="lg" aria-label={_("Planning")} />}
            </Modal>
        );
    const removes = plan.plan.remove || [];
    const protectedLayers = Object.entries(plan.plan.protected || {});
    const body = (
        <div id="gc-plan">
            {removes.length
                ? <>
                    <p>{_("These images and their layers will be removed:")}</p>
                    <List className="onode-plan-list">{removes.map(name => <ListItem key={name}>{name}</ListItem>)}</List>
                </>
                : <p className="onode-plan-list">{_("No image is old enough to be removed.")}</p>}
            {protectedLayers.length > 0 &&
                <>
                    <p>{_("Kept:")}</p>
                    <List className="onode-plan-list">
                        {protectedLayers.map(([name, reason]) => <ListItem key={name}>{name}: {reason}</ListItem>)}
                    </List>
                </>}
        </div>
    );
    return (
        <ConfirmModal title={_("Remove old images")} body={body} confirm={_("Remove")} danger
                      command={["gc", "--yes"]} done={_("Old images removed.")}
                      onClose={onClose} onDone={onDone} />
    );
}

function Plan({ plan }) {
    const conflicts = new Set(plan.etc_conflicts || []);
    const etc = plan.etc || [];
    const varEntries = Object.entries(plan.var || {});
    return (
        <div className="onode-plan" id="update-plan">
            {plan.nvr && <p>{cockpit.format(_("Image $0"), plan.nvr)}</p>}
            {(plan.problems || []).map(problem =>
                <Alert key={problem} variant="warning" isInline isPlain title={problem} />)}
            {plan.create_lvs &&
                <>
                    <Title headingLevel="h3" size="md">{_("New logical volumes")}</Title>
                    <List className="onode-plan-list">
                        {plan.create_lvs.map(name => <ListItem key={name}>{name}</ListItem>)}
                    </List>
                </>}
            <Title headingLevel="h3" size="md">{_("/etc merge")}</Title>
            {conflicts.size > 0 &&
                <Alert variant="warning" isInline isPlain id="etc-conflicts"
                       title={cockpit.format(_("Conflicts: $0"), [...conflicts].join(", "))} />}
            {etc.length
                ? <table className="pf-v5-c-table pf-m-compact onode-plan-list" aria-label={_("/etc merge")}>
                    <thead>
                        <tr>
                            <th scope="col">{_("Path")}</th>
                            <th scope="col">{_("Action")}</th>
                            <th scope="col">{_("Reason")}</th>
                        </tr>
                    </thead>
                    <tbody>
                        {etc.map(item => (
                            <tr key={item.path} data-etc={item.path}>
                                <td><code>{item.path}</code></td>
                                <td>{conflicts.has(item.path)
                                    ? <Label color="orange">{item.action}</Label>
                                    : item.action}</td>
                                <td>{item.reason}</td>
                            </tr>
                        ))}
                    </tbody>
                </table>
                : <p className="onode-plan-list">{_("No /etc changes.")}</p>}
            {varEntries.length > 0 &&
                <>
                    <Title headingLevel="h3" size="md">{_("New /var content")}</Title>
                    <List className="onode-plan-list">
                        {varEntries.map(([volume, paths]) =>
                            <ListItem key={volume}><code>{volume}</code>: {[].concat(paths).join(", ")}</ListItem>)}
                    </List>
                </>}
            {plan.boot_entry &&
                <>
                    <Title headingLevel="h3" size="md">{_("Boot entry")}</Title>
                    <List className="onode-plan-list">
                        {Object.entries(plan.boot_entry).map(([key, value]) =>
                            <ListItem key={key}>{key}: <code>{String(value)}</code></ListItem>)}
                    </List>
                </>}
            {(plan.gc_removes || []).length > 0 &&
                <>
                    <Title headingLevel="h3" size="md">{_("Old images removed afterwards")}</Title>
                    <List className="onode-plan-list">
                        {plan.gc_removes.map(name => <ListItem key={name}>{name}</ListItem>)}
                    </List>
                </>}
        </div>
    );
}

export function UpdateModal({ onClose, onDone }) {
    const [image, setImage] = useState("");
    const [stage, setStage] = useState("input"); // input, planning, plan, running
    const [plan, setPlan] = useState(null);
    const [error, setError] = useState(null);
    const [step, setStep] = useState(null);
    const [progress, setProgress] = useState(null);
    const [messages, setMessages] = useState([]);

    const showPlan = () => {
        setStage("planning");
        setError(null);
        run(["update", "--image", image, "--dry-run"]).then(data => {
            setPlan(data.plan);
            setStage("plan");
        }, ex => {
            setError(ex.message);
            setStage("input");
        });
    };

    const update = () => {
        setStage("running");
        setError(null);
        stream(["update", "--image", image, "--yes"], event => {
            if (event.event === "step") {
                setStep(event.message || event.step);
                setProgress(null);
            } else if (event.event === "progress") {
                setProgress(event.percent);
            } else if (event.event === "info" || event.event === "warning") {
                setMessages(old => [...old, [event.event, event.message]]);
            }
        }).then(result => {
            const conflicts = (result && result.etc_conflicts) || [];
            onDone(conflicts.length
                ? cockpit.format(_("Updated. /etc conflicts kept the local version: $0"), conflicts.join(", "))
                : _("Updated. The new layer boots by default."));
        }, ex => {
            setError(ex.message);
            setStage("failed");
        });
    };

    let actions;
    if (stage === "input" || stage === "planning")
        actions = [
            <Button key="plan" id="update-plan-button" variant="primary" isDisabled={!image || stage === "planning"}
                    isLoading={stage === "planning"} onClick={showPlan}>{_("Show plan")}</Button>,
            <Button key="cancel" variant="link" onClick={onClose}>{_("Cancel")}</Button>,
        ];
    else if (stage === "plan")
        actions = [
            <Button key="update" id="update-confirm" variant="primary" onClick={update}>{_("Update")}</Button>,
            <Button key="cancel" variant="link" onClick={onClose}>{_("Cancel")}</Button>,
        ];
    else if (stage === "running")
        actions = [<Button key="running" variant="primary" isLoading isDisabled>{_("Updating")}</Button>];
    else
        actions = [<Button key="close" variant="primary" onClick={() => onDone(null)}>{_("Close")}</Button>];

    return (
        <Modal id="update-dialog" variant={ModalVariant.medium} isOpen title={_("Update from image…")}
               onClose={stage === "running" ? undefined : onClose} actions={actions}>
            <ErrorAlert error={error} />
            {(stage === "input" || stage === "planning") &&
                <Form onSubmit={e => { e.preventDefault(); if (image) showPlan() }}>
                    <FormGroup label={_("Image path or URL on the node")} fieldId="update-image" isRequired>
                        <TextInput id="update-image" value={image} onChange={(_e, value) => setImage(value)}
                                   isDisabled={stage === "planning"} />
                    </FormGroup>
                </Form>}
            {stage === "plan" && plan && <Plan plan={plan} />}
            {(stage === "running" || stage === "failed") &&
                <>
                    <Progress id="update-progress" value={progress === null ? 0 : progress}
                              title={step || _("Starting")} aria-label={_("Update progress")}
                              variant={stage === "failed" ? "danger" : undefined} />
                    {messages.length > 0 &&
                        <List className="onode-log" isPlain>
                            {messages.map(([kind, text], index) =>
                                <ListItem key={index}>{kind === "warning" ? "⚠ " : ""}{text}</ListItem>)}
                        </List>}
                </>}
        </Modal>
    );
}
