// The axios client of doc 002 (002_axios.mjs: the document's snippet with `import axios from 'axios'`
// put before it, since it uses `axios` and `export`), verbatim but for the origin, under Node.js.
// usage: node 002_axios_run.mjs <origin> <question>
import { report, source } from "./verbatim.mjs";

const [origin, question] = process.argv.slice(2);
setTimeout(() => {
  report({ end: "timeout" });
  process.exit(2);
}, 30000).unref();

// A data: URL module resolves only absolute specifiers, so the import line (ours, not the document's)
// names axios by the URL this folder resolves it to.
const code = source("002_axios.mjs", "http://127.0.0.1:8080", origin).replace(
  "import axios from 'axios';",
  `import axios from ${JSON.stringify(import.meta.resolve("axios"))};`,
);
const module = await import("data:text/javascript;base64," + Buffer.from(code).toString("base64"));
const chunks = [];
const events = await module.sendMessage(question, (event) => chunks.push(event));
report({ events, chunks });
