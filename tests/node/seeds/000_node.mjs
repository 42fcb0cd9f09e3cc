// The two client snippets of doc 000 (000_sse.js, then 000_send.js), verbatim, under Node.js with the
// `eventsource` package. The document's URLs are relative (a page served by the same server), so a shim
// defined before the code resolves them against the server's origin, as a browser page there would.
// usage: node 000_node.mjs <origin> <seconds>
import { EventSource as PackageEventSource } from "eventsource";
import { report, runScript } from "./verbatim.mjs";

const [origin, secondsArg] = process.argv.slice(2);
const nativeFetch = globalThis.fetch;
globalThis.fetch = (input, init) => nativeFetch(new URL(String(input), origin), init);
globalThis.EventSource = class extends PackageEventSource {
  constructor(url, init) {
    super(new URL(String(url), origin), init);
    this.addEventListener("open", () => report({ open: true }));
  }
};
setTimeout(() => {
  report({ end: "timeout" });
  process.exit(0);
}, Number(secondsArg ?? "10") * 1000);

runScript("000_sse.js");
runScript("000_send.js");
