// Runs a page of this folder in headless Chromium, served from the server's own origin, and reports what
// the page printed (console) and showed (DOM), one JSON object per stdout line.
//
// usage: node browser.mjs '<spec json>'
//   spec: { origin, docOrigin?, page?, pageUrl?, loads?, timeoutMs?, waitFor?: [regex…], settleMs?, dom?: [id…] }
//
// The page is requested at `${origin}/__seeds__/${page}`; every `${origin}/__seeds__/*` request is answered
// with the file of this folder (so the page and its scripts share the server's origin, and the
// document's relative URLs reach the server), with `docOrigin` (the origin the document wrote, e.g.
// http://localhost:8000) replaced by `origin`: the only change made to the document's code. Other
// requests go to the network untouched. With `pageUrl` the page is loaded from there instead (a real
// server of another origin, for cross-origin pages). A load ends when every `waitFor` regex matched a
// console line of that load (then `settleMs` more), or after `timeoutMs`; then the `dom` elements' text
// and HTML are reported and the next load (a fresh navigation, which closes the page's connections) starts.
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const spec = JSON.parse(process.argv[2]);
const { origin, docOrigin, page: pageName } = spec;
const pageUrl = spec.pageUrl ?? `${origin}/__seeds__/${pageName}`;
const loads = spec.loads ?? 1;
const timeoutMs = spec.timeoutMs ?? 15000;
const settleMs = spec.settleMs ?? 300;
const waitFor = (spec.waitFor ?? []).map((source) => new RegExp(source));
const domIds = spec.dom ?? [];
const emit = (object) => process.stdout.write(JSON.stringify(object) + "\n");
const hardStop = setTimeout(() => {
  emit({ fatal: "browser.mjs hard timeout" });
  process.exit(3);
}, loads * (timeoutMs + 5000) + 15000);

const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8" };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
  ],
});
let load = 0;
let seen = [];
let wake = () => {};
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.route(`${origin}/__seeds__/**`, async (route) => {
    const name = new URL(route.request().url()).pathname.replace(/^\/__seeds__\//, "");
    if (name.includes("/") || name.includes("..")) return route.fulfill({ status: 404, body: "" });
    let body;
    try {
      body = await readFile(join(here, name), "utf8");
    } catch {
      return route.fulfill({ status: 404, body: "" });
    }
    if (docOrigin) body = body.split(docOrigin).join(origin);
    const type = types[name.slice(name.lastIndexOf("."))] ?? "text/plain; charset=utf-8";
    await route.fulfill({ status: 200, contentType: type, body });
  });
  page.on("console", async (message) => {
    const at = load;
    const text = message.text();
    seen.push(text);
    let args = null;
    try {
      args = await Promise.all(message.args().map((arg) => arg.jsonValue().catch(() => null)));
    } catch {
      args = null;
    }
    emit({ load: at, console: message.type(), text, args });
    wake();
  });
  page.on("pageerror", (error) => emit({ load, pageerror: String(error) }));
  page.on("requestfailed", (request) =>
    emit({ load, requestfailed: request.url(), failure: request.failure()?.errorText ?? null }),
  );
  page.on("response", (response) => emit({ load, response: response.url(), status: response.status() }));

  for (load = 1; load <= loads; load += 1) {
    seen = [];
    const started = Date.now();
    await page.goto(pageUrl, { waitUntil: "load", timeout: timeoutMs });
    let matched = false;
    while (Date.now() - started < timeoutMs) {
      if (waitFor.every((regex) => seen.some((text) => regex.test(text)))) {
        matched = true;
        break;
      }
      await new Promise((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
    }
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const dom = {};
    for (const id of domIds) {
      dom[id] = await page.evaluate(
        (elementId) => {
          const element = document.getElementById(elementId);
          return element ? { text: element.textContent, html: element.innerHTML } : null;
        },
        id,
      );
    }
    emit({ load, end: matched ? "matched" : "timeout", ms: Date.now() - started, dom });
  }
  await page.goto("about:blank");
} catch (error) {
  emit({ load, fatal: String(error?.stack ?? error) });
} finally {
  await browser.close();
  clearTimeout(hardStop);
}
