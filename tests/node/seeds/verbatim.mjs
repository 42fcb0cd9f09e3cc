// Loads a client file of this folder as the document wrote it: the only change is the origin (the
// document's `docOrigin`, e.g. http://127.0.0.1:8080, becomes the test server's `origin`).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

const here = dirname(fileURLToPath(import.meta.url));

export function source(name, docOrigin, origin) {
  const text = readFileSync(join(here, name), "utf8");
  return docOrigin ? text.split(docOrigin).join(origin) : text;
}

/** Runs a classic script in this realm, as a browser's <script> would: its top-level functions become globals. */
export function runScript(name, docOrigin, origin) {
  vm.runInThisContext(source(name, docOrigin, origin), { filename: join(here, name) });
}

/** Prints one report line for the test, told apart from the document's own console output by `@@`. */
export function report(object) {
  process.stdout.write("@@" + JSON.stringify(object) + "\n");
}
