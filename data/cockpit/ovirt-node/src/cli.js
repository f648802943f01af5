// The page's only door to the node: the ovirt-node CLI and its JSON.

const cockpit = window.cockpit;

// The one line the CLI prints on failure ("ovirt-node: error: ..."), or
// Cockpit's own message when the command could not run at all.
export function errorLine(ex, stderr) {
    const lines = (stderr || ex.message || "").split("\n").map(line => line.trim()).filter(Boolean);
    const cli = lines.filter(line => line.startsWith("ovirt-node: error:"));
    if (cli.length)
        return cli[cli.length - 1];
    if (lines.length)
        return lines[lines.length - 1];
    return cockpit.message(ex);
}

export class CommandError extends Error {
    constructor(line, data) {
        super(line);
        this.data = data;
    }
}

function spawn(args, options) {
    return cockpit.spawn(["ovirt-node", ...args, "--json"],
                         { superuser: "require", err: "message", ...options });
}

// The answer of a command printing one JSON document, or JSON lines (a
// --dry-run may report its steps before the plan): the last one.
function parse(output) {
    const lines = output.split("\n").filter(line => line.trim());
    return JSON.parse(lines.length > 1 ? lines[lines.length - 1] : output);
}

// Runs `ovirt-node ARGS --json` and resolves with its parsed stdout. A
// failure rejects with CommandError (its message is the CLI's error line,
// its data the parsed stdout if any: `check` exits 1 with its results).
export function run(args) {
    return new Promise((resolve, reject) => {
        spawn(args)
                .done(output => {
                    try {
                        resolve(parse(output));
                    } catch (e) {
                        reject(new CommandError(String(e)));
                    }
                })
                .fail((ex, output) => {
                    let data = null;
                    try {
                        data = output ? parse(output) : null;
                    } catch (e) {}
                    reject(new CommandError(errorLine(ex), data));
                });
    });
}

// Runs a command that prints JSON lines ({"event": ...}); ON_EVENT gets each
// one as it arrives. Resolves with the last event, rejects with CommandError.
export function stream(args, onEvent) {
    return new Promise((resolve, reject) => {
        let last = null;
        let pending = "";
        const handle = line => {
            if (!line.trim())
                return;
            try {
                last = JSON.parse(line);
            } catch (e) {
                return;
            }
            onEvent(last);
        };
        spawn(args)
                .stream(chunk => {
                    const lines = (pending + chunk).split("\n");
                    pending = lines.pop();
                    lines.forEach(handle);
                })
                .done(() => {
                    handle(pending);
                    resolve(last);
                })
                .fail(ex => {
                    handle(pending);
                    reject(new CommandError(errorLine(ex)));
                });
    });
}
