// Runs one official @ag-ui/client HttpAgent against a live AG-UI endpoint and reports what it saw.
//
// Usage: node run_client.mjs <v1|v0> <url> <input.json | ->
//
//   v1  -> @ag-ui/client 1.0.0   (installed as "agui-client-v1")
//   v0  -> @ag-ui/client 0.0.59  (installed as "agui-client-v0"; the version CopilotKit ships)
//
// The input JSON may carry threadId, runId, messages, tools, context, forwardedProps and state.
// Prints exactly one JSON line on stdout:
//   {ok, error, warnings, logs, events, eventObjects, runErrors, runFinished, failed, result,
//    newMessages, messages, state, client}
// and exits 0 even when the run failed: the Python test decides what is right. Every console call the
// client makes is captured (warn/error into "warnings", log/info/debug into "logs"), so stdout carries
// nothing but the report. The run is bounded by RUN_TIMEOUT_MS (default 20000).

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const PACKAGES = { v1: "agui-client-v1", v0: "agui-client-v0" };
const TIMEOUT_MS = Number(process.env.RUN_TIMEOUT_MS || 20000);

const warnings = [];
const logs = [];
const realStdoutWrite = process.stdout.write.bind(process.stdout);

function show(value) {
  if (typeof value === "string") return value;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function capture(sink, level) {
  return (...args) => sink.push(`[${level}] ${args.map(show).join(" ")}`);
}

console.warn = capture(warnings, "warn");
console.error = capture(warnings, "error");
console.trace = capture(warnings, "trace");
console.log = capture(logs, "log");
console.info = capture(logs, "info");
console.debug = capture(logs, "debug");
process.on("warning", (warning) => warnings.push(`[process] ${warning.name}: ${warning.message}`));

let reported = false;
function report(fields) {
  if (reported) return;
  reported = true;
  const line = JSON.stringify({ warnings, logs, ...fields }) + "\n";
  realStdoutWrite(line, () => process.exit(0));
}

function describeError(error) {
  if (error === undefined || error === null) return String(error);
  if (!(error instanceof Error)) return show(error);
  let text = `${error.name}: ${error.message}`;
  if (error.status !== undefined) text += ` (status ${error.status})`;
  return text;
}

function usage(message) {
  report({ ok: false, error: `usage: node run_client.mjs <v1|v0> <url> <input.json|->: ${message}` });
}

async function main() {
  const [version, url, inputPath] = process.argv.slice(2);
  if (!PACKAGES[version]) return usage(`unknown client version ${JSON.stringify(version)}`);
  if (!url) return usage("missing url");
  if (!inputPath) return usage("missing input");

  const input = JSON.parse(readFileSync(inputPath === "-" ? 0 : inputPath, "utf8"));
  const packageName = PACKAGES[version];
  const require = createRequire(import.meta.url);
  const clientVersion = require(`${packageName}/package.json`).version;
  const { HttpAgent } = await import(packageName);

  const agent = new HttpAgent({ url, threadId: input.threadId });
  if (input.threadId !== undefined) agent.threadId = input.threadId;
  if (input.messages !== undefined) agent.messages = structuredClone(input.messages);
  if (input.state !== undefined) agent.state = structuredClone(input.state);

  const events = [];
  const eventObjects = [];
  const runErrors = [];
  const failed = [];
  let runFinished = null;

  const subscriber = {
    onEvent({ event }) {
      events.push(event.type);
      eventObjects.push(event);
    },
    onRunErrorEvent({ event }) {
      runErrors.push({ message: event.message, code: event.code ?? null });
    },
    onRunFinishedEvent(params) {
      runFinished = {
        outcome: params.outcome ?? null,
        pendingToolCallIds: params.pendingToolCallIds ?? null,
        result: params.result ?? params.event?.result ?? null,
      };
    },
    onRunFailed({ error }) {
      failed.push(describeError(error));
    },
  };

  const parameters = {};
  for (const key of ["runId", "tools", "context", "forwardedProps"]) {
    if (input[key] !== undefined) parameters[key] = input[key];
  }

  const common = () => ({
    client: { version, package: "@ag-ui/client", packageVersion: clientVersion },
    events,
    eventObjects,
    runErrors,
    runFinished,
    failed,
    messages: agent.messages,
    state: agent.state,
  });

  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve("timeout"), TIMEOUT_MS);
  });
  let outcome;
  try {
    outcome = await Promise.race([agent.runAgent(parameters, subscriber).then((value) => ({ value })), timeout]);
  } catch (error) {
    clearTimeout(timer);
    return report({ ok: false, error: describeError(error), result: null, newMessages: null, ...common() });
  }
  clearTimeout(timer);
  if (outcome === "timeout") {
    try {
      agent.abortRun();
    } catch {
      // the run is being abandoned either way
    }
    return report({ ok: false, error: `timeout: the run did not settle within ${TIMEOUT_MS} ms`, ...common() });
  }
  const { value } = outcome;
  return report({ ok: true, error: null, result: value?.result ?? null, newMessages: value?.newMessages ?? null, ...common() });
}

process.on("uncaughtException", (error) => report({ ok: false, error: `uncaught: ${describeError(error)}` }));
process.on("unhandledRejection", (error) => report({ ok: false, error: `unhandled rejection: ${describeError(error)}` }));

// A hard stop in case something keeps the event loop busy past the run's own timeout.
setTimeout(() => report({ ok: false, error: "hard timeout" }), TIMEOUT_MS + 5000).unref();

main().catch((error) => report({ ok: false, error: `harness: ${describeError(error)}` }));
