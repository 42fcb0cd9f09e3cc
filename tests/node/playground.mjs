// Drives the playground page (GET /ag-ui/playground) in headless Chromium, as a person would, and reports
// what the page showed, one JSON object per stdout line ({"step": name, ...}); tests/e2e/test_playground.py
// judges them. Screenshots go to spec.shots.
//
// usage: node playground.mjs '<spec json>'
//   spec: { origin, shots, token?: bearer token (the server has auth), steps?: [names] }
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium } from "playwright-core";

const spec = JSON.parse(process.argv[2]);
const url = `${spec.origin}/ag-ui/playground`;
const WAIT = 20000;
const emit = (object) => process.stdout.write(JSON.stringify(object) + "\n");
const hardStop = setTimeout(() => {
  emit({ fatal: "playground.mjs hard timeout" });
  process.exit(3);
}, 150000);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
  ],
});

const outside = []; // requests the page made anywhere but the server
const nativeDialogs = [];
// a context is one browser profile (localStorage: the theme); a page is one tab (sessionStorage: the page's view and
// its run, the token). The thread list is the server's.
async function newPage(shared = null) {
  const context = shared ?? (await browser.newContext({ viewport: { width: 1400, height: 900 } }));
  const page = await context.newPage();
  page.on("pageerror", (error) => emit({ pageerror: String(error) }));
  page.on("console", (message) => {
    if (message.type() === "error" || message.text().startsWith("agui-playground:")) {
      emit({ console: message.type(), text: message.text() });
    }
  });
  page.on("dialog", (dialog) => {
    nativeDialogs.push(dialog.type()); // the page asks in its own dialogs, never with alert() or confirm()
    dialog.dismiss();
  });
  page.on("request", (request) => {
    if (!request.url().startsWith(spec.origin) && !request.url().startsWith("data:")) outside.push(request.url());
  });
  return { context, page };
}

async function open(page) {
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT });
}

const status = (page) => page.locator("#run-state").getAttribute("data-status");

async function waitStatus(page, wanted) {
  await page.waitForFunction(
    (values) => values.includes(document.querySelector("#run-state").dataset.status),
    Array.isArray(wanted) ? wanted : [wanted],
    { timeout: WAIT },
  );
}

async function send(page, agentId, text) {
  await page.selectOption("#agent", agentId);
  await page.fill("#composer-input", text);
  await page.press("#composer-input", "Enter");
}

// the thread list as the page shows it, in order
const listed = (page) =>
  page.evaluate(() =>
    [...document.querySelectorAll("#threads li")].map((node) => ({
      id: node.querySelector("button[data-thread]").dataset.thread,
      name: node.querySelector("button[data-thread]").textContent,
      preview: node.querySelector(".preview")?.textContent ?? null,
      current: node.querySelector("button[data-thread]").getAttribute("aria-current") === "true",
    })),
  );
// the server's list (every thread, newest first), asked by the page's origin
const serverList = (page) =>
  page.evaluate(async () => (await (await fetch("/ag-ui/threads?limit=100")).json()).threads.map((t) => t.threadId));
const focused = (page) =>
  page.evaluate(() => {
    const node = document.activeElement;
    return node?.id || node?.dataset.thread || (node?.dataset.rename && `rename:${node.dataset.rename}`) || node?.tagName;
  });

async function seen(page) {
  return page.evaluate(() => ({
    chat: [...document.querySelectorAll("#messages > .msg")].map((node) => ({
      kind: node.dataset.kind,
      text: node.querySelector(".text")?.textContent ?? null,
      tool: node.dataset.tool ?? null,
      status: node.dataset.status ?? null,
      result: node.querySelector(".result")?.textContent ?? null,
    })),
    timeline: [...document.querySelectorAll("#timeline li[data-type]")].map((node) => ({
      type: node.dataset.type,
      seq: node.dataset.seq === "" ? null : Number(node.dataset.seq),
      run: node.dataset.run,
      ms: node.querySelector(".ms").textContent,
    })),
    runId: document.querySelector("#run-id").textContent,
    threadId: document.querySelector("#thread-id").textContent,
    status: document.querySelector("#run-state").dataset.status,
    cursor: Number(document.querySelector("#cursor").dataset.cursor),
    state: document.querySelector("#state").innerText,
    changed: [...document.querySelectorAll("#state .changed")].map((node) => node.closest("li")?.dataset.pointer ?? ""),
    patch: document.querySelector("#patch").textContent,
    threads: [...document.querySelectorAll("#threads button")].map((node) => node.dataset.thread),
  }));
}

const steps = {
  // send a message (keyboard only: Tab to the box, type, Enter) and see the offline agent's reply
  async chat({ page }) {
    await open(page);
    const reached = [];
    for (let n = 0; n < 30 && !reached.includes("composer-input"); n++) {
      await page.keyboard.press("Tab");
      reached.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName));
    }
    await page.keyboard.type("hello playground");
    await page.keyboard.press("Enter");
    // the offline agent calls the first tool offered, the page's pick_color: decline it with Escape
    await page.waitForSelector("#color-dialog[open]", { timeout: WAIT });
    const focusedInDialog = await page.evaluate(() => document.activeElement?.closest("dialog")?.id ?? null);
    await page.keyboard.press("Escape");
    await page.waitForFunction(
      () => [...document.querySelectorAll("#messages .msg.assistant .text")].some((n) => n.textContent.includes("returned")),
      null,
      { timeout: WAIT },
    );
    await waitStatus(page, "finished");
    const shown = await seen(page);
    await page.click("#curl");
    const curl = await page.inputValue("#curl-text");
    await page.keyboard.press("Escape");
    return { ...shown, reached, focusedInDialog, curl };
  },

  // the agent calls the page's frontend tool: the color dialog opens, the color goes back, the agent answers
  async tool({ page }) {
    await open(page);
    await send(page, "colors", "paint the banner");
    await page.waitForSelector("#color-dialog[open]", { timeout: WAIT });
    const prompt = await page.textContent("#color-prompt");
    await page.fill("#color-input", "#00aa55");
    await page.click("#color-ok");
    await page.waitForFunction(
      () => [...document.querySelectorAll("#messages .msg.assistant .text")].some((n) => n.textContent.includes("You picked")),
      null,
      { timeout: WAIT },
    );
    await waitStatus(page, "finished");
    return { prompt, ...(await seen(page)) };
  },

  // stop a slow run from the page
  async stop({ page }) {
    await open(page);
    await send(page, "slow", "count slowly");
    await page.waitForFunction(() => Number(document.querySelector("#cursor").dataset.cursor) >= 6, null, { timeout: WAIT });
    await page.click("#stop");
    await waitStatus(page, ["cancelled", "finished", "error"]);
    return seen(page);
  },

  // reload while a slow run streams: the page resumes after its cursor, nothing lost, nothing twice
  async reload({ page }) {
    await open(page);
    await send(page, "slow", "count slowly, again");
    await page.waitForFunction(() => Number(document.querySelector("#cursor").dataset.cursor) >= 12, null, { timeout: WAIT });
    // the cursor as the page leaves (the run goes on streaming until the reload takes it down): what the page
    // stored of its run as it left (its own pagehide listener, added first, has just saved it; the #cursor
    // element can trail that by one render, which is drawn on the next animation frame)
    await page.evaluate(() =>
      addEventListener("pagehide", () => {
        const stored = JSON.parse(sessionStorage.getItem("agui-playground:session"));
        sessionStorage.setItem("test:cursor-at-unload", String(stored.run.cursor));
      }),
    );
    const resumed = page.waitForEvent("request", {
      predicate: (request) => request.url().includes("/runs/") && request.url().endsWith("/events"),
      timeout: WAIT,
    });
    await page.reload();
    const request = await resumed;
    const lastEventId = (await request.allHeaders())["last-event-id"] ?? null;
    const before = Number(await page.evaluate(() => sessionStorage.getItem("test:cursor-at-unload")));
    await waitStatus(page, "finished");
    return { before, lastEventId, ...(await seen(page)) };
  },

  // open a stored thread: from this browser's list, and by id in a browser that never saw it
  async thread({ page, context, previous }) {
    await open(page);
    const threadId = previous.chat.threadId;
    await page.click("#new-thread");
    const listed = await seen(page);
    await page.click(`#threads button[data-thread="${threadId}"]`);
    await page.waitForFunction((id) => document.querySelector("#thread-id").textContent === id, threadId, { timeout: WAIT });
    const fromList = await seen(page);
    const other = await newPage();
    await open(other.page);
    await other.page.fill("#open-thread-id", threadId);
    await other.page.press("#open-thread-id", "Enter");
    await other.page.waitForFunction((id) => document.querySelector("#thread-id").textContent === id, threadId, { timeout: WAIT });
    const byId = await seen(other.page);
    await other.context.close();
    return { threadId, listed: listed.threads, fromList, byId };
  },

  // two runs in two threads: the list is the server's, newest first, also with localStorage cleared and in a
  // fresh profile; one thread renamed and the other deleted from the list, with the keyboard
  async threads({ page }) {
    await open(page);
    await page.uncheck("#offer-tools"); // the offline agent answers without calling the page's tool
    const ids = [];
    for (const text of ["the first of two threads", "the second of two threads"]) {
      await page.click("#new-thread");
      await send(page, "default", text);
      await waitStatus(page, "finished");
      ids.push(await page.textContent("#thread-id"));
      // the list is loaded again once the run has ended
      await page.waitForFunction((id) => document.querySelector("#threads button[data-thread]")?.dataset.thread === id, ids.at(-1), {
        timeout: WAIT,
      });
    }
    const [first, second] = ids;
    const afterRuns = { shown: await listed(page), server: await serverList(page) };

    await page.evaluate(() => localStorage.clear());
    await page.reload();
    await page.waitForSelector("body[data-ready=true]", { timeout: WAIT });
    const afterClear = await listed(page);
    const other = await newPage();
    await open(other.page);
    const fresh = await listed(other.page);
    await other.context.close();

    // rename the second: Enter on its Rename button, a new title, Enter
    await page.focus(`#threads [data-rename="${second}"]`);
    await page.keyboard.press("Enter");
    await page.waitForSelector("#rename-dialog[open]", { timeout: WAIT });
    const renameDialog = { focused: await focused(page), value: await page.inputValue("#rename-input") };
    await page.fill("#rename-input", "Renamed by the test");
    await page.keyboard.press("Enter");
    await page.waitForFunction(
      (id) => document.querySelector(`#threads button[data-thread="${id}"]`)?.textContent === "Renamed by the test",
      second,
      { timeout: WAIT },
    );
    const renamed = { shown: await listed(page), focused: await focused(page) };

    // delete the first: Escape keeps it, then Delete confirmed in the page's dialog
    await page.focus(`#threads [data-delete="${first}"]`);
    await page.keyboard.press("Enter");
    await page.waitForSelector("#delete-dialog[open]", { timeout: WAIT });
    const deleteDialog = { focused: await focused(page), name: await page.textContent("#delete-name") };
    await page.keyboard.press("Escape");
    await page.waitForFunction(() => !document.querySelector("#delete-dialog").open, null, { timeout: WAIT });
    const kept = await listed(page);
    await page.focus(`#threads [data-delete="${first}"]`);
    await page.keyboard.press("Enter");
    await page.waitForSelector("#delete-dialog[open]", { timeout: WAIT });
    await page.focus("#delete-yes");
    await page.keyboard.press("Enter");
    await page.waitForFunction((id) => !document.querySelector(`#threads button[data-thread="${id}"]`), first, { timeout: WAIT });
    const deleted = { shown: await listed(page), server: await serverList(page), focused: await focused(page) };
    return { first, second, afterRuns, afterClear, fresh, renameDialog, renamed, deleteDialog, kept, deleted, nativeDialogs };
  },

  // more threads than a page of the list: "Load more threads" adds the next page
  async more({ page }) {
    await open(page);
    const before = { shown: await listed(page), more: await page.isVisible("#more-threads") };
    await page.focus("#more-threads");
    await page.keyboard.press("Enter");
    await page.waitForFunction((n) => document.querySelectorAll("#threads li").length > n, before.shown.length, { timeout: WAIT });
    const after = { shown: await listed(page), more: await page.isVisible("#more-threads"), focused: await focused(page) };
    return { before, after, server: await serverList(page) };
  },

  // an interrupt answered in the form
  async interrupt({ page }) {
    await open(page);
    await send(page, "approvals", "mail the team");
    await page.waitForSelector("#interrupts:not([hidden])", { timeout: WAIT });
    const legend = await page.textContent("#interrupts legend");
    const sendDisabled = await page.isDisabled("#send");
    await page.check('#interrupts input[value="approve"]');
    await page.click('#interrupts button[type="submit"]');
    await page.waitForFunction(
      () => [...document.querySelectorAll("#messages .msg.assistant .text")].some((n) => n.textContent.includes("sent.")),
      null,
      { timeout: WAIT },
    );
    await waitStatus(page, "finished");
    return { legend, sendDisabled, hidden: await page.isHidden("#interrupts"), ...(await seen(page)) };
  },

  // state as a tree with the last patch marked, reasoning, a backend tool; screenshots light and dark, wide and narrow
  async screenshots({ page }) {
    await mkdir(spec.shots, { recursive: true });
    await open(page);
    await send(page, "stateful", "make a plan");
    await waitStatus(page, "finished");
    await page.locator("#timeline li[data-type=STATE_DELTA] summary").click();
    const shown = await seen(page);
    const files = [];
    const shoot = async (name) => {
      const path = join(spec.shots, name);
      await page.screenshot({ path, fullPage: true });
      files.push(path);
    };
    await page.emulateMedia({ colorScheme: "light" });
    await shoot("playground-light.png");
    const lightBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: "dark" });
    await shoot("playground-dark.png");
    const darkBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.setViewportSize({ width: 390, height: 844 });
    await shoot("playground-narrow-dark.png");
    await page.emulateMedia({ colorScheme: "dark" });
    await page.click("#theme"); // auto → light, whatever the system says
    const toggledBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const theme = await page.evaluate(() => document.documentElement.dataset.theme ?? "auto");
    await shoot("playground-narrow-light-toggle.png");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll("button, select, input, textarea")]
        .filter((node) => node.offsetParent !== null || node.closest("dialog[open]"))
        .filter((node) => !(node.getAttribute("aria-label") || node.labels?.length || node.textContent.trim()))
        .map((node) => node.id || node.outerHTML.slice(0, 80)),
    );
    return { ...shown, files, lightBg, darkBg, toggledBg, theme, overflow, unnamed };
  },

  // a server with bearer tokens: the page asks for one, keeps it in the tab, and sends it
  async auth({ page }) {
    await page.goto(url);
    await page.waitForSelector("#token-dialog[open]", { timeout: WAIT });
    await page.fill("#token-input", spec.token);
    await page.press("#token-input", "Enter");
    await page.waitForSelector("body[data-ready=true]", { timeout: WAIT });
    const whoami = await page.textContent("#whoami");
    await send(page, "default", "hello with a token");
    await waitStatus(page, "finished");
    const stored = await page.evaluate(() => ({
      session: sessionStorage.getItem("agui-playground:token"),
      local: Object.keys(localStorage).filter((key) => localStorage.getItem(key).includes("secret")),
    }));
    return { whoami, stored, ...(await seen(page)) };
  },
};

const results = {};
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } }); // the steps are tabs of one profile
  for (const name of spec.steps ?? Object.keys(steps)) {
    const { page } = await newPage(context);
    const started = Date.now();
    try {
      results[name] = await steps[name]({ page, context, previous: results });
      emit({ step: name, ms: Date.now() - started, ...results[name] });
    } catch (error) {
      emit({ step: name, error: String(error?.stack ?? error), seen: await seen(page).catch(() => null) });
    } finally {
      await page.close();
    }
  }
  emit({ outside });
} finally {
  clearTimeout(hardStop);
  await browser.close();
}
