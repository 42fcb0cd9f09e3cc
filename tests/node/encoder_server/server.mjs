// A minimal AG-UI server the way the official TypeScript SDK's examples write one: plain Node HTTP,
// `RunAgentInputSchema` from @ag-ui/core 1.0.0 to read the request, and `EventEncoder` from
// @ag-ui/encoder 1.0.0, negotiated by the request's Accept header (protobuf when the client takes it),
// to write the events. The conformance runner is judged against it (tests/conformance/test_encoder_server.py):
// a correct server built on the SDK must pass it.
//
// Each POST gets one run: RUN_STARTED, an assistant text message echoing the user's last message,
// a call of the first offered tool (arguments built from its JSON Schema) when the request offers tools,
// RUN_FINISHED. Headers are what the SDK examples set: Content-Type from the encoder, Cache-Control:
// no-cache, Connection: keep-alive (no X-Accel-Buffering).
//
// The SDK ships no HTTP handler, so the request hygiene here is this file's own, the least a server
// should do: POST only (405), JSON only (415), a body limit (413), UTF-8 only, valid JSON, JSON no deeper
// than 512 levels, and a RunAgentInput @ag-ui/core accepts (400); every refusal is a small JSON object.
//
//   node server.mjs --port 8123 [--host 127.0.0.1] [--max-body 1048576]
// prints `listening http://HOST:PORT` on stdout once it accepts connections; stops on SIGTERM/SIGINT.

import http from "node:http";
import { randomUUID } from "node:crypto";
import { EventType } from "agui-core-v1";
import { RunAgentInputSchema } from "agui-core-v1/schemas";
import { EventEncoder } from "agui-encoder-v1";

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

const HOST = option("host", "127.0.0.1");
const PORT = Number(option("port", "0"));
const MAX_BODY = Number(option("max-body", String(1024 * 1024)));
const MAX_DEPTH = 512;
const DELTA_CODE_POINTS = 2000;

class Refusal extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function refuse(res, status, message, extraHeaders = {}) {
  const body = JSON.stringify({ error: message });
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    ...extraHeaders,
  });
  res.end(body);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Refusal(413, `the body is over ${MAX_BODY} bytes`));
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

// Nesting depth of a JSON text, counted over its brackets outside strings.
function depthOf(text) {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) deepest = Math.max(deepest, ++depth);
    else if (c === 125 || c === 93) depth--;
  }
  return deepest;
}

function parseInput(bytes) {
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Refusal(400, "the body is not UTF-8");
  }
  if (depthOf(text) > MAX_DEPTH) throw new Refusal(400, `the JSON is nested deeper than ${MAX_DEPTH} levels`);
  let json;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Refusal(400, `the body is not JSON: ${error.message}`);
  }
  const parsed = RunAgentInputSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(input)"}: ${issue.message}`);
    throw new Refusal(400, `not a RunAgentInput: ${issues.join("; ")}`);
  }
  return parsed.data;
}

function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .filter((part) => part && part.type === "text" && typeof part.text === "string")
      .map((part) => part.text)
      .join("");
  }
  return "";
}

// Arguments that satisfy a tool's (simple) JSON Schema: every required property, a plain value of its type.
function exampleFor(schema, hint) {
  if (!schema || typeof schema !== "object") return {};
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  switch (schema.type) {
    case "object": {
      const out = {};
      for (const key of schema.required ?? []) out[key] = exampleFor(schema.properties?.[key], hint);
      return out;
    }
    case "array":
      return [];
    case "integer":
    case "number":
      return typeof schema.minimum === "number" ? schema.minimum : 1;
    case "boolean":
      return true;
    case "string":
      return hint;
    default:
      return hint;
  }
}

function* runEvents(input) {
  const { threadId, runId } = input;
  yield { type: EventType.RUN_STARTED, threadId, runId };
  const lastUser = [...input.messages].reverse().find((message) => message.role === "user");
  const said = lastUser ? textOf(lastUser.content) : "";
  const reply = said ? `You said: ${said}` : "Hello! You have not said anything yet.";
  const messageId = randomUUID();
  yield { type: EventType.TEXT_MESSAGE_START, messageId, role: "assistant" };
  const codePoints = Array.from(reply);
  for (let i = 0; i < codePoints.length; i += DELTA_CODE_POINTS) {
    yield { type: EventType.TEXT_MESSAGE_CONTENT, messageId, delta: codePoints.slice(i, i + DELTA_CODE_POINTS).join("") };
  }
  yield { type: EventType.TEXT_MESSAGE_END, messageId };
  const tool = input.tools[0];
  if (tool && lastUser) {
    const toolCallId = randomUUID();
    const hint = said.slice(0, 64).replace(/[^0-9A-Za-z]/g, "") || "Tokyo";
    const args = JSON.stringify(exampleFor(tool.parameters, hint));
    yield { type: EventType.TOOL_CALL_START, toolCallId, toolCallName: tool.name, parentMessageId: messageId };
    yield { type: EventType.TOOL_CALL_ARGS, toolCallId, delta: args };
    yield { type: EventType.TOOL_CALL_END, toolCallId };
  }
  yield { type: EventType.RUN_FINISHED, threadId, runId };
}

async function handle(req, res) {
  if (req.method !== "POST") {
    req.resume();
    refuse(res, 405, `method ${req.method} is not allowed; POST a RunAgentInput`, { Allow: "POST" });
    return;
  }
  const contentType = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  if (contentType !== "application/json") {
    req.resume();
    refuse(res, 415, "the body must be application/json");
    return;
  }
  let input;
  try {
    input = parseInput(await readBody(req));
  } catch (error) {
    if (error instanceof Refusal) {
      refuse(res, error.status, error.message, error.status === 413 ? { Connection: "close" } : {});
      return;
    }
    throw error;
  }
  const encoder = new EventEncoder({ accept: req.headers.accept });
  res.writeHead(200, {
    "Content-Type": encoder.getContentType(),
    "Cache-Control": "no-cache",
    Connection: "keep-alive",
  });
  let gone = false;
  res.on("close", () => {
    gone = true;
  });
  for (const event of runEvents(input)) {
    if (gone) return;
    res.write(encoder.encodeBinary(event));
  }
  res.end();
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    console.error(`encoder_server: ${error?.stack ?? error}`);
    if (!res.headersSent) refuse(res, 500, "internal error");
    else res.destroy();
  });
});
server.on("clientError", (_error, socket) => {
  if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
});
server.listen(PORT, HOST, () => {
  const { address, port } = server.address();
  process.stdout.write(`listening http://${address}:${port}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
