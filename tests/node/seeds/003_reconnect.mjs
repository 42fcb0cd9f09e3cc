// Not a document's code: an EventSource (the `eventsource` package, a WHATWG implementation) left open on
// a URL for `seconds`, reporting every frame, open and error, so the test can count runs across the
// EventSource's automatic reconnects (which send Last-Event-ID).
// usage: node 003_reconnect.mjs <url> <seconds>
import { EventSource } from "eventsource";
import { report } from "./verbatim.mjs";

const [url, secondsArg] = process.argv.slice(2);
const names = [
  "message", "complete", "RUN_STARTED", "RUN_FINISHED", "RUN_ERROR", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT",
  "TEXT_MESSAGE_END", "TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END", "TOOL_CALL_RESULT", "STATE_SNAPSHOT",
  "STATE_DELTA", "MESSAGES_SNAPSHOT", "STEP_STARTED", "STEP_FINISHED", "CUSTOM", "error",
];
const source = new EventSource(url);
source.addEventListener("open", () => report({ open: true, readyState: source.readyState }));
for (const name of names) {
  source.addEventListener(name, (event) => {
    if (name === "error" && event.data === undefined) {
      report({ error: String(event.message ?? ""), code: event.code ?? null, readyState: source.readyState });
      return;
    }
    let data = null;
    try {
      data = JSON.parse(event.data);
    } catch {
      data = event.data;
    }
    report({ event: event.type, id: event.lastEventId, data });
  });
}
setTimeout(() => {
  report({ end: "time", readyState: source.readyState });
  source.close();
  process.exit(0);
}, Number(secondsArg ?? "5") * 1000);
