// The fetch reader of doc 002 (002_fetch.js: sendMessage + handleSSEEvent), verbatim but for the origin,
// under Node.js (global fetch), asked each question given, one after the other.
// usage: node 002_fetch_run.mjs <origin> <question>...
import { report, runScript } from "./verbatim.mjs";

const [origin, ...questions] = process.argv.slice(2);
setTimeout(() => {
  report({ end: "timeout" });
  process.exit(2);
}, 30000).unref();

runScript("002_fetch.js", "http://127.0.0.1:8080", origin);
for (const [index, question] of questions.entries()) {
  const chunks = [];
  report({ begin: index + 1, question });
  await globalThis.sendMessage(question, (delta) => chunks.push(delta));
  report({ call: index + 1, question, chunks });
}
report({ end: "done" });
