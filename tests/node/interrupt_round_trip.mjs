// Drives one official @ag-ui/client 1.0 HttpAgent through several runs on one thread, answering the
// interrupts each run leaves open (agent.pendingInterrupts) in the next run's `resume`.
//
// Usage: node interrupt_round_trip.mjs <input.json | ->
//   input: {url, threadId, steps: [{runId, message?, answer?}]}
//     url:     another endpoint for this run (the same thread through another web process)
//     message: a user message text added before the run
//     answer:  omitted/null: no resume; "cancel": cancel every open interrupt; an object: resolve every
//              open interrupt with it as the payload
// Prints one JSON line: {steps: [{ok, error, outcome, pendingInterrupts, toolResults, text}], warnings}
// and exits 0: the Python test decides what is right. Bounded by RUN_TIMEOUT_MS per run (default 20000).

import { readFileSync } from "node:fs";

const TIMEOUT_MS = Number(process.env.RUN_TIMEOUT_MS || 20000);
const warnings = [];
const realStdoutWrite = process.stdout.write.bind(process.stdout);
console.warn = (...args) => warnings.push(args.map(String).join(" "));
console.error = (...args) => warnings.push(args.map(String).join(" "));
console.log = () => {};
console.debug = () => {};

function report(fields) {
  realStdoutWrite(JSON.stringify({ warnings, ...fields }) + "\n", () => process.exit(0));
}

async function main() {
  const input = JSON.parse(readFileSync(process.argv[2] === "-" || !process.argv[2] ? 0 : process.argv[2], "utf8"));
  const { HttpAgent } = await import("agui-client-v1");
  const agent = new HttpAgent({ url: input.url, threadId: input.threadId });
  const steps = [];
  for (const step of input.steps) {
    if (step.url) agent.url = step.url;
    if (step.message) agent.addMessage({ id: `u-${step.runId}`, role: "user", content: step.message });
    let resume;
    if (step.answer === "cancel") {
      resume = agent.pendingInterrupts.map((i) => ({ interruptId: i.id, status: "cancelled" }));
    } else if (step.answer) {
      resume = agent.pendingInterrupts.map((i) => ({ interruptId: i.id, status: "resolved", payload: step.answer }));
    }
    let outcome = null;
    const before = agent.messages.length;
    const subscriber = { onRunFinishedEvent: (params) => { outcome = params.outcome ?? null; } };
    let timer;
    try {
      await Promise.race([
        agent.runAgent({ runId: step.runId, ...(resume ? { resume } : {}) }, subscriber),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error("timeout")), TIMEOUT_MS); }),
      ]);
      clearTimeout(timer);
      const added = agent.messages.slice(before);
      steps.push({
        ok: true,
        error: null,
        outcome,
        pendingInterrupts: agent.pendingInterrupts.map((i) => ({ id: i.id, reason: i.reason, toolCallId: i.toolCallId ?? null })),
        toolResults: added.filter((m) => m.role === "tool").map((m) => ({ toolCallId: m.toolCallId, content: m.content })),
        text: added.filter((m) => m.role === "assistant" && typeof m.content === "string").map((m) => m.content).join(""),
      });
    } catch (error) {
      clearTimeout(timer);
      steps.push({ ok: false, error: `${error?.name}: ${error?.message}`, outcome, pendingInterrupts: agent.pendingInterrupts.map((i) => ({ id: i.id })) });
    }
  }
  report({ steps });
}

setTimeout(() => report({ error: "hard timeout" }), TIMEOUT_MS * 6).unref();
main().catch((error) => report({ error: `harness: ${error?.name}: ${error?.message}` }));
