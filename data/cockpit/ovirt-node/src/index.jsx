import React from "react";
import { createRoot } from "react-dom/client";

import "@patternfly/react-core/dist/styles/base.css";
import "@patternfly/react-styles/css/components/Table/table.css";
import "./app.css";

import { Application } from "./app.jsx";
import { followTheme } from "./theme.js";

followTheme();
document.addEventListener("DOMContentLoaded", () => {
    window.cockpit.translate();
    createRoot(document.getElementById("app")).render(<Application />);
});
