// A usage gauge: PatternFly's progress bar markup with the pool's marks
// drawn on its track: the profile's autoextend, and where `check` warns and
// fails (status --json gives both; the bar turns warning, then danger).

import React from "react";
import "@patternfly/react-styles/css/components/Progress/progress.css";

const cockpit = window.cockpit;
const _ = cockpit.gettext;

export function Gauge({ id, label, value, text, detail, autoextend, warning, failure }) {
    const known = value !== null && value !== undefined;
    const level = !known ? "" : value >= failure ? " pf-m-danger" : value >= warning ? " pf-m-warning" : "";
    const titleId = id + "-title";
    return (
        <div className="onode-gauge" id={id}>
            <div className={"pf-v5-c-progress pf-m-outside" + level}>
                <div className="pf-v5-c-progress__description" id={titleId}>{label}</div>
                <div className="pf-v5-c-progress__status" aria-hidden="true">
                    <span className="pf-v5-c-progress__measure">{text}</span>
                </div>
                <div className="pf-v5-c-progress__bar" role="progressbar" aria-labelledby={titleId}
                     aria-valuemin="0" aria-valuemax="100" aria-valuenow={known ? value : undefined}
                     aria-valuetext={text}>
                    <div className="pf-v5-c-progress__indicator" style={{ width: `${known ? value : 0}%` }} />
                    <span className="onode-mark onode-mark-autoextend" style={{ insetInlineStart: `${autoextend}%` }} />
                    <span className="onode-mark onode-mark-warning" style={{ insetInlineStart: `${warning}%` }} />
                    <span className="onode-mark onode-mark-failure" style={{ insetInlineStart: `${failure}%` }} />
                </div>
                <div className="pf-v5-c-progress__helper-text">{detail}</div>
            </div>
            <p className="onode-gauge-legend">
                <span className="onode-legend onode-legend-autoextend">
                    {cockpit.format(_("Autoextend at $0 %"), autoextend)}
                </span>
                <span className="onode-legend onode-legend-warning">
                    {cockpit.format(_("Warning at $0 %"), warning)}
                </span>
                <span className="onode-legend onode-legend-failure">
                    {cockpit.format(_("Fails at $0 %"), failure)}
                </span>
            </p>
        </div>
    );
}
