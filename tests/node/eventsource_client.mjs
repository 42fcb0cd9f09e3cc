// A browser-style EventSource (the `eventsource` package, a WHATWG implementation) subscribed to a
// thread: prints one JSON line per event ({event, id, data}) and exits after `runs` terminal events.
// usage: node eventsource_client.mjs <url> <runs> [timeoutSeconds]
import { EventSource } from "eventsource";

const [url, runsArg, timeoutArg] = process.argv.slice(2);
const wanted = Number(runsArg ?? "1");
const timeout = Number(timeoutArg ?? "20") * 1000;
let terminals = 0;
const source = new EventSource(url);
const types = [
  "RUN_STARTED", "RUN_FINISHED", "RUN_ERROR", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END",
  "TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END", "TOOL_CALL_RESULT", "STATE_SNAPSHOT", "STATE_DELTA",
  "MESSAGES_SNAPSHOT", "STEP_STARTED", "STEP_FINISHED", "CUSTOM",
];
const timer = setTimeout(() => {
  console.log(JSON.stringify({ error: "timeout" }));
  source.close();
  process.exit(0);
}, timeout);
source.onopen = () => console.log(JSON.stringify({ open: true }));
source.onerror = (err) => console.log(JSON.stringify({ error: String(err?.message ?? err) }));
for (const type of types) {
  source.addEventListener(type, (event) => {
    console.log(JSON.stringify({ event: event.type, id: event.lastEventId, data: JSON.parse(event.data) }));
    if (type === "RUN_FINISHED" || type === "RUN_ERROR") {
      terminals += 1;
      if (terminals >= wanted) {
        clearTimeout(timer);
        source.close();
        process.exit(0);
      }
    }
  });
}
