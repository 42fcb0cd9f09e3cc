// The agent-specific JavaScript client of doc 003 (003_agent_stream.js), verbatim but for the origin,
// under Node.js with the `eventsource` package (the shim line `import { EventSource } from 'eventsource'`
// makes it the global EventSource; it also reports when the stream opened, so the test starts its run
// after that). It runs until the test stops it or `seconds` pass.
// usage: node 003_agent_run.mjs <origin> <seconds>
import { EventSource } from "eventsource";
import { report, runScript } from "./verbatim.mjs";

const [origin, secondsArg] = process.argv.slice(2);
globalThis.EventSource = class extends EventSource {
  constructor(url, init) {
    super(url, init);
    this.addEventListener("open", () => report({ open: true }));
    this.addEventListener("error", (event) => report({ error: String(event?.message ?? event), code: event?.code }));
  }
};
setTimeout(() => {
  report({ end: "timeout" });
  process.exit(0);
}, Number(secondsArg ?? "10") * 1000);

runScript("003_agent_stream.js", "http://localhost:8000", origin);
