// Light and dark themes the way Cockpit's pages follow the shell: the
// "shell:style" setting (light, dark or auto) shared in localStorage, and
// the browser's colour scheme for auto. PatternFly 5 themes on this class.

const DARK = "pf-v5-theme-dark";

function apply() {
    let style = "auto";
    try {
        style = window.localStorage.getItem("shell:style") || "auto";
    } catch (e) {}
    const media = window.matchMedia("(prefers-color-scheme: dark)");
    const dark = style === "dark" || (style === "auto" && media.matches);
    document.documentElement.classList.toggle(DARK, dark);
}

export function followTheme() {
    apply();
    window.addEventListener("storage", event => {
        if (event.key === "shell:style")
            apply();
    });
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", apply);
    // The shell tells its frames directly too.
    window.addEventListener("cockpit-style", apply);
}
