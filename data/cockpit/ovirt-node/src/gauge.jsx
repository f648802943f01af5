// A usage gauge: PatternFly's progress bar markup with the pool profile's
// marks (autoextend and warning thresholds) drawn on its track.

import React from "react";
import "@patternfly/react-styles/css/components/Progress/progress.css";

const cockpit = window.cockpit;
const _ = cockpit.gettext;

export function Gauge({ id, label, value, text, detail, autoextend, warning }) {
    const known = value !== null && value !== undefined;
    const over = known && value >= warning;
    const titleId = id + "-title";
    return (
        <div className="onode-gauge" id={id}>
            <div className={"pf-v5-c-progress pf-m-outside" + (over ? " pf-m-warning" : "")}>
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
            </p>
        </div>
    );
}
