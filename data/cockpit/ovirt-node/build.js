#!/usr/bin/env node
// Builds the page into dist/: index.js and index.css bundled by esbuild from
// src/, manifest.json and index.html copied, and one po.<lang>.js per
// translation in po/ (the format cockpit.locale() takes).

import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';

import esbuild from 'esbuild';
import gettextParser from 'gettext-parser';

const here = path.dirname(new URL(import.meta.url).pathname);
const outdir = path.join(here, 'dist');

function poScripts() {
    const dir = path.join(here, 'po');
    for (const name of fs.readdirSync(dir).filter(name => name.endsWith('.po'))) {
        const lang = name.slice(0, -3);
        const parsed = gettextParser.po.parse(fs.readFileSync(path.join(dir, name)));
        const messages = { "": { language: lang, "plural-forms": parsed.headers["Plural-Forms"] || "" } };
        for (const [context, entries] of Object.entries(parsed.translations)) {
            for (const [msgid, entry] of Object.entries(entries)) {
                if (!msgid || entry.msgstr.every(text => !text))
                    continue;
                const key = context ? context + "\u0004" + msgid : msgid;
                messages[key] = [entry.msgid_plural || null, ...entry.msgstr];
            }
        }
        const forms = messages[""]["plural-forms"];
        const plural = forms.replace(/^.*plural=/, "").replace(/;\s*$/, "") || "n != 1";
        messages[""]["plural-forms"] = "__PLURAL__";
        const body = JSON.stringify(messages).replace('"__PLURAL__"', `function(n) { return ${plural}; }`);
        fs.writeFileSync(path.join(outdir, `po.${lang}.js`), `cockpit.locale(${body});\n`);
    }
}

fs.rmSync(outdir, { recursive: true, force: true });
const started = Date.now();
try {
    await esbuild.build({
        absWorkingDir: here,
        entryPoints: ['src/index.jsx'],
        bundle: true,
        outdir,
        minify: true,
        legalComments: 'external',
        target: ['es2020'],
        loader: { '.woff': 'file', '.woff2': 'file', '.svg': 'file', '.png': 'file' },
        define: { 'process.env.NODE_ENV': '"production"' },
        logLevel: 'warning',
    });
} catch (e) {
    process.exit(1);
}
for (const name of ['manifest.json', 'index.html'])
    fs.copyFileSync(path.join(here, 'src', name), path.join(outdir, name));
poScripts();
console.log(`dist/ built in ${Date.now() - started} ms`);
