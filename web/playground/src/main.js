// The playground page's code. It talks to the server with the official @ag-ui/client HttpAgent (POST runs,
// and the resume stream GET <path>/runs/{runId}/events, which an HttpAgent subclass requests), and with
// plain fetch for the rest of the API (stop, threads, the agents). Bundled by esbuild (build.mjs).
import { HttpAgent, buildResumeArray } from "@ag-ui/client";

const PATH = document.querySelector('meta[name="agui-path"]').content;
const KEY = "agui-playground:";
const $ = (id) => document.getElementById(id);
const TERMINAL = new Set(["RUN_FINISHED", "RUN_ERROR"]);

// --- frontend tools: declared in every run; the page runs them and sends their result in the next run ---
const FRONTEND_TOOLS = [
  {
    name: "pick_color",
    description: "Ask the user to pick a color. Returns {color: '#rrggbb'} or {declined: true}.",
    parameters: { type: "object", properties: { prompt: { type: "string", description: "What to ask." } } },
  },
  {
    name: "confirm",
    description: "Ask the user a yes/no question. Returns {confirmed: boolean}.",
    parameters: {
      type: "object",
      properties: { message: { type: "string", description: "The question." } },
      required: ["message"],
    },
  },
];

function ask(dialogId, setUp) {
  const dialog = $(dialogId);
  setUp(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

const TOOL_HANDLERS = {
  async pick_color(args) {
    const answer = await ask("color-dialog", () => {
      $("color-prompt").textContent = args.prompt || "Pick a color.";
    });
    return answer === "ok" ? { color: $("color-input").value } : { declined: true };
  },
  async confirm(args) {
    const answer = await ask("confirm-dialog", () => {
      $("confirm-message").textContent = args.message || "Confirm?";
    });
    return { confirmed: answer === "yes" };
  },
};

// --- storage -----------------------------------------------------------------------------------------------
const store = {
  get(area, name, fallback) {
    try {
      const raw = area.getItem(KEY + name);
      return raw === null ? fallback : JSON.parse(raw);
    } catch {
      return fallback;
    }
  },
  set(area, name, value) {
    try {
      area.setItem(KEY + name, JSON.stringify(value));
    } catch {
      /* full or unavailable: the page goes on without it */
    }
  },
};
const token = () => sessionStorage.getItem(KEY + "token");
const authHeaders = () => (token() ? { Authorization: `Bearer ${token()}` } : {});

function newId(prefix) {
  return `${prefix}-${crypto.randomUUID()}`;
}

function freshSession(threadId, agentId) {
  return {
    threadId: threadId ?? newId("thread"),
    agentId,
    chat: [],
    timeline: [],
    state: {},
    lastPatch: null,
    changed: [],
    run: null,
    interrupts: [],
    messages: [],
    lastRequest: null,
  };
}

let session = store.get(sessionStorage, "session", null) ?? freshSession(null, null);
let rendered = { timeline: 0 };
let agent = null; // the HttpAgent of the run in progress
let busy = false;

function save() {
  store.set(sessionStorage, "session", session);
}
let saveTimer = null;
function saveSoon() {
  if (saveTimer === null) saveTimer = setTimeout(() => ((saveTimer = null), save()), 250);
}
addEventListener("pagehide", save);

// The caller's threads as the server lists them (GET <path>/threads, newest first, a page at a time): the
// pages loaded so far and the cursor of the next one. Not stored: the server keeps the list.
let threadList = { threads: [], nextCursor: null };
try {
  localStorage.removeItem(KEY + "threads"); // where an older page kept a list of its own
} catch {
  /* unavailable: nothing to clear */
}

// --- the API -----------------------------------------------------------------------------------------------
async function api(method, url, body, retry = true) {
  const init = { method, headers: { ...authHeaders(), Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  if (response.status === 401) {
    if (retry && (await askToken())) return api(method, url, body, false);
    throw new Error("The server needs a token: enter it, then try again.");
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(`${response.status} ${data?.code ?? ""}: ${data?.detail ?? text}`);
  return data;
}

// Asks for a bearer token (kept in this tab's sessionStorage); whether one was given.
async function askToken() {
  $("sign-in").hidden = false;
  if ($("token-dialog").open) return false;
  const answer = await ask("token-dialog", () => ($("token-input").value = ""));
  const given = $("token-input").value.trim();
  if (answer !== "ok" || !given) return false;
  sessionStorage.setItem(KEY + "token", given);
  return true;
}

// A fetch for the HttpAgent that passes the stream through untouched while it notes each frame's id (the
// cursor) and event type, and keeps an error answer's body so the page can show its code.
function trackingFetch(frames) {
  return async (url, init) => {
    const response = await fetch(url, init);
    if (response.status === 204) {
      frames.ended = true; // GET runs/{id}/events: the run is over and nothing is left after the cursor
      return new Response("", { status: 200, headers: { "content-type": "text/event-stream" } });
    }
    if (!response.ok || !response.body) {
      const text = await response.text();
      frames.error = { status: response.status, text };
      if (response.status === 401) askToken();
      return new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers });
    }
    const decoder = new TextDecoder();
    let buffer = "";
    const tap = new TransformStream({
      transform(chunk, controller) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let id = null;
          let data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("id:")) id = line.slice(3).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trimStart();
          }
          if (!data) continue;
          let type = null;
          try {
            type = JSON.parse(data).type;
          } catch {
            /* the client reports it */
          }
          frames.queue.push({ id: id === null ? null : Number(id), type });
        }
        controller.enqueue(chunk);
      },
    });
    return new Response(response.body.pipeThrough(tap), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

// The resume stream, read by the official client's own SSE parsing: GET runs/{runId}/events after a cursor.
class ResumeAgent extends HttpAgent {
  constructor(config, cursor) {
    super(config);
    this.cursor = cursor;
  }
  requestInit() {
    const headers = { ...this.headers, Accept: "text/event-stream" };
    if (this.cursor > 0) headers["Last-Event-ID"] = String(this.cursor);
    return { method: "GET", headers, signal: this.abortController.signal };
  }
}

// --- what events do to the page ----------------------------------------------------------------------------
function chatItem(kind, id) {
  let item = session.chat.find((c) => c.kind === kind && c.id === id);
  if (!item) {
    item = { kind, id, text: "" };
    session.chat.push(item);
  }
  return item;
}

// The pointers a patch changed, in the patched document (an append, `/list/-`, is the list's new last item).
function pointerPaths(patch, doc) {
  const paths = [];
  for (const op of Array.isArray(patch) ? patch : []) {
    if (typeof op?.path !== "string") continue;
    if (op.path.endsWith("/-")) {
      const list = op.path.slice(0, -2).split("/").slice(1).reduce((node, key) => node?.[key.replace(/~1/g, "/").replace(/~0/g, "~")], doc);
      paths.push(`${op.path.slice(0, -2)}/${Array.isArray(list) ? list.length - 1 : "-"}`);
    } else paths.push(op.path);
  }
  return paths;
}

function applyPatch(state, patch) {
  // RFC 6902 for the page's tree (the official client applies it to agent.state; the page keeps its own copy
  // so that it survives a reload)
  let doc = structuredClone(state ?? {});
  const parse = (p) => p.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  const get = (p) => parse(p).reduce((node, key) => (node == null ? undefined : node[key]), doc);
  const put = (p, value, insert) => {
    const keys = parse(p);
    if (keys.length === 0) return void (doc = value);
    const parent = keys.slice(0, -1).reduce((node, key) => node[key], doc);
    const last = keys[keys.length - 1];
    if (Array.isArray(parent)) {
      const index = last === "-" ? parent.length : Number(last);
      insert ? parent.splice(index, 0, value) : (parent[index] = value);
    } else parent[last] = value;
  };
  const remove = (p) => {
    const keys = parse(p);
    const parent = keys.slice(0, -1).reduce((node, key) => node[key], doc);
    const last = keys[keys.length - 1];
    Array.isArray(parent) ? parent.splice(Number(last), 1) : delete parent[last];
  };
  for (const op of patch) {
    if (op.op === "add") put(op.path, structuredClone(op.value), true);
    else if (op.op === "replace") put(op.path, structuredClone(op.value), false);
    else if (op.op === "remove") remove(op.path);
    else if (op.op === "move") {
      const value = get(op.from);
      remove(op.from);
      put(op.path, value, true);
    } else if (op.op === "copy") put(op.path, structuredClone(get(op.from)), true);
  }
  return doc;
}

function onEvent(event, seq) {
  const run = session.run;
  const ms = run ? Date.now() - run.startedAt : 0;
  session.timeline.push({ seq, ms, type: event.type, runId: run?.runId, event });
  if (seq !== null && run) run.cursor = Math.max(run.cursor, seq);
  switch (event.type) {
    case "TEXT_MESSAGE_START":
      chatItem(event.role === "user" ? "user" : "assistant", event.messageId);
      break;
    case "TEXT_MESSAGE_CONTENT":
      chatItem("assistant", event.messageId).text += event.delta;
      break;
    case "REASONING_MESSAGE_START":
      chatItem("reasoning", event.messageId);
      break;
    case "REASONING_MESSAGE_CONTENT":
      chatItem("reasoning", event.messageId).text += event.delta;
      break;
    case "TOOL_CALL_START": {
      const item = chatItem("tool", event.toolCallId);
      item.name = event.toolCallName;
      item.args = "";
      item.frontend = event.toolCallName in TOOL_HANDLERS;
      item.status = "calling";
      break;
    }
    case "TOOL_CALL_ARGS":
      chatItem("tool", event.toolCallId).args += event.delta;
      break;
    case "TOOL_CALL_END":
      chatItem("tool", event.toolCallId).status = "called";
      break;
    case "TOOL_CALL_RESULT": {
      const item = chatItem("tool", event.toolCallId);
      item.result = event.content;
      item.status = "done";
      break;
    }
    case "ACTIVITY_SNAPSHOT":
      chatItem("activity", event.messageId).text = JSON.stringify(event.content);
      break;
    case "STATE_SNAPSHOT":
      session.state = event.snapshot;
      session.lastPatch = null;
      session.changed = [""];
      break;
    case "STATE_DELTA":
      try {
        session.state = applyPatch(session.state, event.delta);
      } catch (error) {
        session.chat.push({ kind: "error", text: `STATE_DELTA did not apply: ${error}` });
      }
      session.lastPatch = event.delta;
      session.changed = pointerPaths(event.delta, session.state);
      break;
    case "MESSAGES_SNAPSHOT":
      showMessages(event.messages);
      break;
    case "RUN_FINISHED": {
      const outcome = event.outcome?.type ?? (typeof event.outcome === "string" ? event.outcome : "success");
      if (run) run.status = outcome === "success" ? "finished" : outcome;
      if (outcome === "interrupt") session.interrupts = event.outcome.interrupts ?? [];
      if (outcome === "cancelled") session.chat.push({ kind: "note", text: "The run was stopped." });
      break;
    }
    case "RUN_ERROR":
      if (run) run.status = "error";
      session.chat.push({ kind: "error", text: `${event.code ?? "RUN_ERROR"}: ${event.message}` });
      break;
  }
  saveSoon();
  scheduleRender();
}

function showMessages(messages) {
  session.chat = [];
  for (const message of messages ?? []) {
    const text = typeof message.content === "string" ? message.content : JSON.stringify(message.content ?? "");
    if (message.role === "user" || message.role === "assistant" || message.role === "system") {
      if (text) session.chat.push({ kind: message.role === "system" ? "note" : message.role, id: message.id, text });
      for (const call of message.toolCalls ?? []) {
        session.chat.push({
          kind: "tool", id: call.id, name: call.function.name, args: call.function.arguments,
          frontend: call.function.name in TOOL_HANDLERS, status: "called", text: "",
        });
      }
    } else if (message.role === "tool") {
      const item = session.chat.find((c) => c.kind === "tool" && c.id === message.toolCallId);
      if (item) Object.assign(item, { result: text, status: "done" });
    } else if (message.role === "reasoning") {
      session.chat.push({ kind: "reasoning", id: message.id, text });
    }
  }
}

// --- runs --------------------------------------------------------------------------------------------------
function newAgent(frames) {
  return new HttpAgent({
    url: `${PATH}/${encodeURIComponent(session.agentId)}`,
    threadId: session.threadId,
    // a reload or a dropped connection leaves the run going for a minute, so the page can resume it
    headers: { ...authHeaders(), "X-AGUI-On-Disconnect": "grace:60" },
    initialMessages: session.messages,
    initialState: session.state,
    fetch: trackingFetch(frames),
  });
}

function subscriberFor(frames) {
  return {
    onEvent({ event }) {
      // the frame this event came from: the next one of its type (an event the client made itself has none)
      const at = frames.queue.findIndex((f) => f.type === event.type);
      const frame = at >= 0 ? frames.queue.splice(0, at + 1)[at] : null;
      onEvent(event, frame?.id ?? null);
    },
  };
}

async function startRun({ userText = null, resume = undefined } = {}) {
  if (busy) return;
  busy = true;
  const frames = { queue: [] };
  const runId = newId("run");
  if (userText !== null) {
    const message = { id: newId("msg"), role: "user", content: userText };
    session.messages.push(message);
    session.chat.push({ kind: "user", id: message.id, text: userText });
  }
  session.interrupts = [];
  session.run = { runId, agentId: session.agentId, startedAt: Date.now(), cursor: 0, status: "running" };
  session.timeline.push({ separator: `run ${runId} · ${session.agentId}` });
  agent = newAgent(frames);
  const parameters = { runId, tools: $("offer-tools").checked ? FRONTEND_TOOLS : [] };
  if (resume) parameters.resume = resume;
  session.lastRequest = { url: new URL(agent.url, location.href).href, body: agent.prepareRunAgentInput(parameters) };
  save();
  scheduleRender();
  try {
    await agent.runAgent(parameters, subscriberFor(frames));
    session.messages = agent.messages;
  } catch (error) {
    if (!frames.error && session.run.status === "running") {
      // the connection dropped mid-run: follow the run from the cursor
      session.run.status = "dropped";
      busy = false;
      save();
      return resumeRun();
    }
    session.run.status = "error";
    session.chat.push({ kind: "error", text: describeError(error, frames) });
    if (userText !== null) session.messages.pop();
  } finally {
    busy = false;
    save();
    scheduleRender();
  }
  await loadThreads();
  await afterRun();
}

function describeError(error, frames) {
  if (frames.error) {
    try {
      const body = JSON.parse(frames.error.text);
      return `${frames.error.status} ${body.code}: ${body.detail}`;
    } catch {
      return `${frames.error.status}: ${frames.error.text.slice(0, 200)}`;
    }
  }
  return String(error?.message ?? error);
}

async function resumeRun() {
  const run = session.run;
  if (!run || busy) return;
  busy = true;
  run.status = "running";
  const frames = { queue: [] };
  agent = new ResumeAgent(
    {
      url: `${PATH}/runs/${encodeURIComponent(run.runId)}/events`,
      threadId: session.threadId,
      headers: authHeaders(),
      fetch: trackingFetch(frames),
    },
    run.cursor,
  );
  session.timeline.push({ separator: `resumed ${run.runId} after event ${run.cursor}` });
  console.info(`agui-playground: resume ${run.runId} after ${run.cursor}`);
  scheduleRender();
  const input = { threadId: session.threadId, runId: run.runId, messages: [], tools: [], context: [], state: {}, forwardedProps: {} };
  try {
    await new Promise((resolve, reject) => {
      const seen = subscriberFor(frames);
      agent.run(input).subscribe({ next: (event) => seen.onEvent({ event }), error: reject, complete: resolve });
    });
    if (run.status === "running") run.status = frames.ended ? "finished" : "dropped";
  } catch (error) {
    run.status = frames.error?.status === 404 || frames.error?.status === 410 ? "gone" : "dropped";
    session.chat.push({ kind: "error", text: `Resume: ${describeError(error, frames)}` });
  } finally {
    busy = false;
    save();
    scheduleRender();
  }
  if (run.status !== "dropped" && run.status !== "gone") {
    await refreshThread();
    await loadThreads();
    await afterRun();
  }
}

// After a run: run the frontend tools it called, then send their results in a new run.
async function afterRun() {
  const pending = session.chat.filter((c) => c.kind === "tool" && c.frontend && c.status === "called");
  if (pending.length === 0 || session.run?.status !== "finished") return;
  for (const call of pending) {
    let args = {};
    try {
      args = JSON.parse(call.args || "{}");
    } catch {
      /* the handler gets no arguments */
    }
    const result = await TOOL_HANDLERS[call.name](args);
    call.result = JSON.stringify(result);
    call.status = "done";
    session.messages.push({ id: newId("tool"), role: "tool", toolCallId: call.id, content: call.result });
  }
  scheduleRender();
  await startRun();
}

async function stopRun() {
  if (!session.run) return;
  try {
    await api("POST", `${PATH}/runs/${encodeURIComponent(session.run.runId)}/stop`);
  } catch (error) {
    session.chat.push({ kind: "error", text: `Stop: ${error.message}` });
    scheduleRender();
  }
}

async function refreshThread() {
  try {
    const thread = await api("GET", `${PATH}/threads/${encodeURIComponent(session.threadId)}`);
    session.messages = thread.messages;
    session.interrupts = thread.interrupts ?? [];
    save();
    scheduleRender();
  } catch {
    /* a thread the server does not keep (yet): the page keeps what it has */
  }
}

async function openThread(threadId) {
  if (busy) return;
  try {
    const thread = await api("GET", `${PATH}/threads/${encodeURIComponent(threadId)}`);
    session = freshSession(threadId, session.agentId);
    session.messages = thread.messages;
    session.state = thread.state ?? {};
    session.interrupts = thread.interrupts ?? [];
    showMessages(thread.messages);
    session.chat.push({ kind: "note", text: `Opened thread ${threadId} (${thread.messages.length} messages).` });
    rendered = { timeline: 0 };
    save();
    render();
    renderThreads();
  } catch (error) {
    session.chat.push({ kind: "error", text: `Open ${threadId}: ${error.message}` });
    scheduleRender();
  }
}

// The first page of the list again (more: the next page after those loaded).
async function loadThreads(more = false) {
  const params = new URLSearchParams({ limit: "20" });
  if (more && threadList.nextCursor) params.set("cursor", threadList.nextCursor);
  try {
    const page = await api("GET", `${PATH}/threads?${params}`);
    const kept = more ? threadList.threads.filter((t) => !page.threads.some((p) => p.threadId === t.threadId)) : [];
    threadList = { threads: [...kept, ...page.threads], nextCursor: page.nextCursor ?? null };
  } catch (error) {
    session.chat.push({ kind: "error", text: `Threads: ${error.message}` });
    scheduleRender();
  }
  renderThreads();
}

async function renameThread(thread) {
  const answer = await ask("rename-dialog", () => {
    $("rename-id").textContent = thread.threadId;
    $("rename-input").value = thread.title;
  });
  const title = $("rename-input").value.trim();
  if (answer === "ok" && title && title !== thread.title) {
    try {
      thread.title = (await api("PATCH", `${PATH}/threads/${encodeURIComponent(thread.threadId)}`, { title })).title;
    } catch (error) {
      session.chat.push({ kind: "error", text: `Rename ${thread.threadId}: ${error.message}` });
      scheduleRender();
    }
  }
  renderThreads();
  $("threads").querySelector(`[data-rename="${CSS.escape(thread.threadId)}"]`)?.focus();
}

async function deleteThread(thread) {
  const answer = await ask("delete-dialog", () => ($("delete-name").textContent = threadName(thread)));
  if (answer !== "yes") return;
  try {
    await api("DELETE", `${PATH}/threads/${encodeURIComponent(thread.threadId)}`);
  } catch (error) {
    session.chat.push({ kind: "error", text: `Delete ${thread.threadId}: ${error.message}` });
    return scheduleRender();
  }
  const at = threadList.threads.indexOf(thread);
  threadList.threads = threadList.threads.filter((t) => t !== thread);
  if (thread.threadId === session.threadId && !busy) {
    session = freshSession(null, session.agentId);
    rendered = { timeline: 0 };
    save();
    render();
  }
  renderThreads();
  // the focus was on a button that went with it: on the next thread (or the one before), else on New thread
  const next = $("threads").querySelectorAll("button[data-thread]")[Math.min(at, threadList.threads.length - 1)];
  (next ?? $("new-thread")).focus();
}

// --- rendering ---------------------------------------------------------------------------------------------
let frame = null;
function scheduleRender() {
  if (frame === null) frame = requestAnimationFrame(() => ((frame = null), render()));
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-") || key.startsWith("aria-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text ?? "";
  }
}

function renderChat() {
  const box = $("messages");
  const stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 30;
  box.replaceChildren(
    ...session.chat.map((item) => {
      const labels = { user: "You", assistant: "Agent", reasoning: "Reasoning", activity: "Activity", error: "Error", note: "" };
      if (item.kind === "tool") {
        let color = null;
        try {
          color = JSON.parse(item.result ?? "null")?.color ?? null;
        } catch {
          /* not a color */
        }
        return el(
          "div",
          { class: "msg tool", "data-kind": "tool", "data-tool": item.name, "data-status": item.status },
          el("span", { class: "who" }, `${item.frontend ? "Frontend tool" : "Tool"} ${item.name} · ${item.status}`),
          el("pre", { "aria-label": "arguments" }, pretty(item.args)),
          item.result !== undefined
            ? el("pre", { class: "result", "aria-label": "result" }, "→ ", color ? swatch(color) : null, pretty(item.result))
            : null,
        );
      }
      return el(
        "div",
        { class: `msg ${item.kind}`, "data-kind": item.kind },
        labels[item.kind] ? el("span", { class: "who" }, labels[item.kind]) : null,
        el("span", { class: "text" }, item.text),
      );
    }),
  );
  if (stick) box.scrollTop = box.scrollHeight;
}

function swatch(color) {
  const node = el("span", { class: "swatch", "aria-hidden": "true" });
  node.style.background = color;
  return node;
}

function renderTimeline() {
  const list = $("timeline");
  if (rendered.timeline > session.timeline.length || list.children.length !== rendered.timeline) {
    list.replaceChildren();
    rendered.timeline = 0;
  }
  const stick = list.parentElement.scrollTop + list.parentElement.clientHeight >= list.parentElement.scrollHeight - 30;
  for (const entry of session.timeline.slice(rendered.timeline)) {
    if (entry.separator) {
      list.append(el("li", { class: "run-sep" }, entry.separator));
      continue;
    }
    const payload = { ...entry.event };
    delete payload.type;
    list.append(
      el(
        "li",
        { "data-seq": entry.seq ?? "", "data-type": entry.type, "data-run": entry.runId ?? "" },
        el(
          "details",
          {},
          el(
            "summary",
            {},
            el("span", { class: "type" }, entry.type),
            el("span", { class: "ms", "aria-label": `${entry.ms} milliseconds after the request` }, `+${entry.ms} ms`),
            el("span", { class: "seq", "aria-label": `event id ${entry.seq ?? "none"}` }, entry.seq === null ? "" : `#${entry.seq}`),
          ),
          el("pre", {}, JSON.stringify(payload, null, 2)),
        ),
      ),
    );
  }
  rendered.timeline = session.timeline.length;
  $("event-count").textContent = String(session.timeline.filter((e) => !e.separator).length);
  if (stick) list.parentElement.scrollTop = list.parentElement.scrollHeight;
}

function renderTree(value, pointer, changed) {
  const mark = (node, at) => {
    if (changed.includes(at)) {
      node.classList.add("changed");
      node.setAttribute("aria-description", "changed by the last update");
    }
    return node;
  };
  if (value === null || typeof value !== "object") {
    return el("span", { class: "value" }, JSON.stringify(value));
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  if (entries.length === 0) return el("span", { class: "value" }, Array.isArray(value) ? "[]" : "{}");
  return el(
    "ul",
    {},
    ...entries.map(([key, child]) => {
      const at = `${pointer}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
      const item = el("li", { "data-pointer": at });
      if (child !== null && typeof child === "object") {
        item.append(
          el("details", { open: true }, mark(el("summary", {}, el("span", { class: "key" }, key)), at), renderTree(child, at, changed)),
        );
      } else {
        item.append(mark(el("span", {}, el("span", { class: "key" }, `${key}: `), renderTree(child, at, changed)), at));
      }
      return item;
    }),
  );
}

function renderState() {
  const tree = renderTree(session.state ?? {}, "", session.changed ?? []);
  const root = $("state");
  root.replaceChildren(tree);
  root.classList.toggle("changed", (session.changed ?? []).includes(""));
  $("patch").textContent = session.lastPatch ? JSON.stringify(session.lastPatch, null, 2) : "none";
}

function renderInterrupts() {
  const form = $("interrupts");
  const open = session.interrupts ?? [];
  form.hidden = open.length === 0;
  if (form.dataset.shown === JSON.stringify(open.map((i) => i.id))) return; // keep what the user typed
  form.dataset.shown = JSON.stringify(open.map((i) => i.id));
  $("interrupt-list").replaceChildren(
    ...open.map((interrupt, n) => {
      const approval = interrupt.responseSchema?.properties?.approved?.type === "boolean";
      const name = `interrupt-${n}`;
      return el(
        "fieldset",
        { "data-interrupt": interrupt.id },
        el("legend", {}, `${interrupt.reason}: ${interrupt.message ?? ""}`),
        interrupt.expiresAt ? el("p", { class: "muted small" }, `Answer before ${interrupt.expiresAt}`) : null,
        approval
          ? el(
              "div",
              { role: "radiogroup", "aria-label": "Decision" },
              ...[["approve", "Approve"], ["refuse", "Refuse"], ["cancel", "Cancel it"]].map(([value, label], i) =>
                el("label", {}, el("input", { type: "radio", name, value, checked: i === 0 }), ` ${label} `),
              ),
            )
          : el(
              "div",
              {},
              el("label", { htmlFor: `${name}-payload` }, "Answer (JSON)"),
              el("textarea", { id: `${name}-payload`, name: `${name}-payload`, rows: 3, value: "{}" }),
              el("label", {}, el("input", { type: "checkbox", name: `${name}-cancel` }), " Cancel it instead"),
            ),
        interrupt.metadata ? el("pre", { class: "small" }, JSON.stringify(interrupt.metadata, null, 2)) : null,
      );
    }),
  );
}

function answers() {
  const form = $("interrupts");
  const responses = {};
  (session.interrupts ?? []).forEach((interrupt, n) => {
    const name = `interrupt-${n}`;
    const choice = form.querySelector(`input[name="${name}"]:checked`);
    if (choice) {
      responses[interrupt.id] =
        choice.value === "cancel" ? { status: "cancelled" } : { status: "resolved", payload: { approved: choice.value === "approve" } };
    } else if (form.querySelector(`input[name="${name}-cancel"]`)?.checked) {
      responses[interrupt.id] = { status: "cancelled" };
    } else {
      responses[interrupt.id] = { status: "resolved", payload: JSON.parse(form.querySelector(`[name="${name}-payload"]`).value || "{}") };
    }
  });
  return buildResumeArray(session.interrupts, responses);
}

function threadName(thread) {
  return thread.title || thread.preview || thread.threadId;
}

function renderThreads() {
  const { threads, nextCursor } = threadList;
  $("threads").replaceChildren(
    ...threads.map((t) => {
      const name = threadName(t);
      const open = { type: "button", class: "open", "data-thread": t.threadId, "aria-label": `Open thread ${name}`, onclick: () => openThread(t.threadId) };
      if (t.threadId === session.threadId) open["aria-current"] = "true";
      return el(
        "li",
        {},
        el("button", open, name),
        t.preview && t.preview !== name ? el("span", { class: "preview muted small" }, t.preview) : null,
        el(
          "span",
          { class: "thread-actions" },
          el("button", { type: "button", "data-rename": t.threadId, "aria-label": `Rename thread ${name}`, onclick: () => renameThread(t) }, "Rename"),
          el("button", { type: "button", "data-delete": t.threadId, "aria-label": `Delete thread ${name}`, onclick: () => deleteThread(t) }, "Delete"),
        ),
      );
    }),
  );
  $("threads-empty").hidden = threads.length > 0;
  $("more-threads").hidden = !nextCursor;
}

function render() {
  renderChat();
  renderTimeline();
  renderState();
  renderInterrupts();
  const run = session.run;
  $("thread-id").textContent = session.threadId;
  $("run-id").textContent = run?.runId ?? "none";
  const status = busy && run?.status === "running" ? "running" : run?.status === "running" ? "dropped" : run?.status ?? "idle";
  $("run-state").textContent = status;
  $("run-state").dataset.status = status;
  $("cursor").textContent = String(run?.cursor ?? 0);
  $("cursor").dataset.cursor = String(run?.cursor ?? 0);
  $("send").disabled = busy || (session.interrupts ?? []).length > 0;
  $("stop").disabled = !(busy && run);
  $("resume").disabled = busy || !run || !["dropped", "running"].includes(run.status);
  $("curl").disabled = !session.lastRequest;
  if (session.agentId && $("agent").value !== session.agentId) $("agent").value = session.agentId;
}

function showCurl() {
  const request = session.lastRequest;
  if (!request) return;
  const auth = token() ? ` \\\n  -H "Authorization: Bearer $AGUI_TOKEN"` : "";
  const command =
    `curl -N -X POST '${request.url.replace(/'/g, "'\\''")}' \\\n  -H 'Content-Type: application/json' -H 'Accept: text/event-stream'${auth} \\\n` +
    `  --data-binary @- <<'JSON'\n${JSON.stringify(request.body)}\nJSON\n`;
  $("curl-text").value = command;
  $("curl-note").textContent = token()
    ? "Set AGUI_TOKEN to your token first. Sent again, the same runId re-attaches to that run; change it for a new one."
    : "Sent again, the same runId re-attaches to that run; change it for a new one.";
  navigator.clipboard?.writeText(command).then(
    () => ($("curl-note").textContent += " Copied to the clipboard."),
    () => {},
  );
  $("curl-dialog").showModal();
  $("curl-text").select();
}

// --- theme -------------------------------------------------------------------------------------------------
const THEMES = ["auto", "light", "dark"];
function applyTheme(theme) {
  if (theme === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  $("theme").textContent = `Theme: ${theme}`;
  $("theme").setAttribute("aria-label", `Color theme: ${theme === "auto" ? "follows the system" : theme}. Switch`);
}

// --- start -------------------------------------------------------------------------------------------------
async function loadAgents() {
  try {
    const info = await api("GET", `${PATH}/playground/agents`);
    const select = $("agent");
    select.replaceChildren(...info.agents.map((id) => el("option", { value: id }, id)));
    if (!info.agents.includes(session.agentId)) session.agentId = info.defaultAgent;
    select.value = session.agentId;
    $("whoami").textContent = info.authenticated ? `signed in as ${info.principal}` : "";
    $("sign-in").hidden = !info.authenticated;
    render();
    await loadThreads();
    document.body.dataset.ready = "true";
  } catch (error) {
    $("whoami").textContent = error.message;
  }
}

function wire() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("composer-input").value.trim();
    if (!text || busy) return;
    $("composer-input").value = "";
    startRun({ userText: text });
  });
  $("composer-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("stop").addEventListener("click", stopRun);
  $("resume").addEventListener("click", resumeRun);
  $("curl").addEventListener("click", showCurl);
  $("agent").addEventListener("change", () => {
    session.agentId = $("agent").value;
    save();
  });
  $("new-thread").addEventListener("click", () => {
    if (busy) return;
    session = freshSession(null, session.agentId);
    rendered = { timeline: 0 };
    save();
    render();
    renderThreads();
    $("composer-input").focus();
  });
  $("sign-in").addEventListener("click", async () => {
    if (await askToken()) await loadAgents();
  });
  $("interrupts").addEventListener("submit", (event) => {
    event.preventDefault();
    let resume;
    try {
      resume = answers();
    } catch (error) {
      session.chat.push({ kind: "error", text: `The answer is not JSON: ${error.message}` });
      return scheduleRender();
    }
    startRun({ resume });
  });
  $("more-threads").addEventListener("click", async () => {
    const shown = threadList.threads.length;
    await loadThreads(true);
    // the focus goes to the first thread the page added (the button may be gone: that was the last page)
    $("threads").querySelectorAll("button[data-thread]")[shown]?.focus();
  });
  $("open-thread").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("open-thread-id").value.trim();
    if (id) openThread(id);
  });
  let theme = store.get(localStorage, "theme", "auto");
  applyTheme(theme);
  $("theme").addEventListener("click", () => {
    theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
    store.set(localStorage, "theme", theme);
    applyTheme(theme);
  });
}

wire();
render();
await loadAgents();
if (session.run && ["running", "dropped"].includes(session.run.status)) {
  // the page was reloaded (or lost its connection) while a run was going: follow it from the cursor
  await resumeRun();
}
