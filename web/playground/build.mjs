// Builds the playground page's script: src/main.js and the official @ag-ui/client it imports, bundled by
// esbuild into one file in the Python package (agui_server/http/playground/playground.js), which is
// committed and shipped in the wheel. `node build.mjs --check` builds into memory and fails when the
// committed file differs (a test runs it).
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "..", "agui_server", "http", "playground", "playground.js");
const result = await build({
  entryPoints: [join(here, "src", "main.js")],
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  legalComments: "eof",
  charset: "utf8",
  write: false,
  banner: { js: "// Built by web/playground/build.mjs from web/playground/src/main.js and @ag-ui/client; do not edit." },
});
const code = result.outputFiles[0].text;
if (process.argv.includes("--check")) {
  const committed = await readFile(out, "utf8").catch(() => "");
  if (committed !== code) {
    console.error(`${out} is not the build of web/playground: run \`node build.mjs\` there and commit it`);
    process.exit(1);
  }
  console.log(`${out} is up to date (${code.length} bytes)`);
} else {
  await writeFile(out, code);
  console.log(`wrote ${out} (${code.length} bytes)`);
}
