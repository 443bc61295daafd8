// Reads the query stream: SSE over a POST (fetch), resumable with Last-Event-ID.
import { ApiError, errorFrom, headers } from "./api";
import type { Citation } from "./types";

export interface SSEFrame {
  id: string | null;
  event: string | null;
  data: string;
}

/** Parses an SSE byte stream (spec: fields, comments, CR/LF/CRLF, multi-line data). */
export async function* readSSE(body: ReadableStream<Uint8Array>): AsyncGenerator<SSEFrame> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let id: string | null = null;
  let event: string | null = null;
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let m: RegExpExecArray | null;
      const lineEnd = /\r\n|\r|\n/g;
      let start = 0;
      while ((m = lineEnd.exec(buffer)) !== null) {
        // A lone CR at the very end may be the first half of CRLF: wait for more bytes.
        if (m[0] === "\r" && m.index === buffer.length - 1) break;
        const line = buffer.slice(start, m.index);
        start = m.index + m[0].length;
        if (line === "") {
          if (data.length) yield { id, event, data: data.join("\n") };
          event = null;
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue; // heartbeat / comment
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) val = val.slice(1);
        if (field === "data") data.push(val);
        else if (field === "event") event = val;
        else if (field === "id" && !val.includes("\0")) id = val;
      }
      buffer = buffer.slice(start);
    }
  } finally {
    reader.releaseLock();
  }
}

export type StreamEvent =
  | { kind: "start"; streamId: string; queryId?: string; model?: string }
  | { kind: "thought"; text: string }
  | { kind: "token"; text: string }
  | { kind: "citation"; citation: Citation }
  | { kind: "usage"; usage: Usage }
  | { kind: "done"; meta: DoneMeta }
  | { kind: "error"; message: string; code: string; retryable: boolean; queryId?: string }
  | { kind: "reconnecting"; attempt: number }
  | { kind: "resumed"; after: string | null }
  | { kind: "agent"; step: AgentFrame }
  | { kind: "options"; options: OptionsFrame }
  | { kind: "products"; products: ProductCard[] }
  | { kind: "memory"; memory: MemoryFrame };

// The agent frames (issue 13 contract; not in openapi.json: they are stream payloads).
export type AgentStatus = "started" | "ok" | "error" | "skipped";

/** One step of the agent graph: sent when it starts and again when it ends (same step_id). */
export interface AgentFrame {
  agent: string;
  step_id: string;
  status: AgentStatus;
  duration_ms: number | null;
  summary: string;
}

/** A question with answers to pick: each label is sent as the next message. */
export interface OptionsFrame {
  question: string;
  field: string | null;
  options: string[];
}

/** A product found for the user (schemas/products.py ProductCard). */
export interface ProductCard {
  id: string;
  title: string;
  price: number | null;
  currency: string | null;
  category: string | null;
  url: string | null;
  image_url: string | null;
  rating: number | null;
  description: string | null;
  source: string | null;
}

export interface MemoryChangeFrame {
  action: "add" | "update" | "delete" | "none" | string;
  id: string | null;
  text: string;
}

/** The memories the answer used, and what this turn saved, changed or forgot. */
export interface MemoryFrame {
  used: { id: string; text: string }[];
  changes: MemoryChangeFrame[];
}

export interface Usage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  reasoning_tokens?: number | null;
  cached_tokens?: number | null;
}

export interface DoneMeta {
  query_id?: string;
  stream_id?: string;
  provider?: string;
  model?: string;
  latency?: number;
  latency_ms?: number;
  ttft?: number | null;
  ttft_ms?: number | null;
  chain_of_thought?: { total_thinking_time_ms?: number; reasoning_tokens?: number | null } | null;
  tokens?: Usage & { total?: number };
  reasoning_tokens?: number;
  thinking_ms?: number;
  finish_reason?: string;
  status?: string;
}

type Json = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const obj = (v: unknown): Json => (v && typeof v === "object" ? (v as Json) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const numOrNull = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const strOrNull = (v: unknown): string | null => (typeof v === "string" && v ? v : null);
const STATUSES: readonly string[] = ["started", "ok", "error", "skipped"];

function agentFrame(d: Json): AgentFrame | null {
  const agent = str(d.agent);
  if (!agent) return null;
  return {
    agent,
    step_id: str(d.step_id) || agent,
    status: (STATUSES.includes(str(d.status)) ? str(d.status) : "started") as AgentStatus,
    duration_ms: numOrNull(d.duration_ms),
    summary: str(d.summary),
  };
}

function productCard(v: unknown): ProductCard | null {
  const p = obj(v);
  if (!str(p.title)) return null;
  return {
    id: str(p.id) || str(p.title),
    title: str(p.title),
    price: numOrNull(p.price),
    currency: strOrNull(p.currency),
    category: strOrNull(p.category),
    url: strOrNull(p.url),
    image_url: strOrNull(p.image_url),
    rating: numOrNull(p.rating),
    description: strOrNull(p.description),
    source: strOrNull(p.source),
  };
}

function memoryFrame(d: Json): MemoryFrame {
  return {
    used: list(d.used)
      .map(obj)
      .filter((u) => str(u.text))
      .map((u) => ({ id: str(u.id), text: str(u.text) })),
    changes: list(d.changes)
      .map(obj)
      .filter((c) => str(c.text) && str(c.action) !== "none")
      .map((c) => ({ action: str(c.action), id: strOrNull(c.id), text: str(c.text) })),
  };
}

/** Maps one data payload to an event; tolerant of `content`/`text`/`delta` spellings. */
export function toEvent(payload: Json, sseEvent: string | null): StreamEvent | null {
  const type = str(payload.type) || sseEvent || "";
  const text = str(payload.content) || str(payload.text) || str(payload.delta);
  switch (type) {
    case "start":
    case "meta":
    case "stream":
      return payload.stream_id
        ? {
            kind: "start",
            streamId: String(payload.stream_id),
            queryId: payload.query_id ? String(payload.query_id) : undefined,
            model: payload.provider && payload.model ? `${payload.provider}:${payload.model}` : undefined,
          }
        : null;
    case "thought":
    case "reasoning":
    case "thinking":
      return { kind: "thought", text };
    case "token":
    case "text":
      return { kind: "token", text };
    case "citation": {
      const c = obj(payload.data ?? payload.citation ?? payload);
      return { kind: "citation", citation: c as Citation };
    }
    case "usage":
      return { kind: "usage", usage: obj(payload.usage ?? payload.data ?? payload) as Usage };
    case "done":
      return { kind: "done", meta: obj(payload.metadata ?? payload.data ?? payload) as DoneMeta };
    case "error": {
      const e = obj(payload.error);
      const message =
        str(payload.message) || str(e.message) || str(payload.detail) || str(payload.error) || "The model failed";
      const httpStatus = Number(payload.http_status ?? 0);
      const meta = obj(payload.metadata);
      return {
        kind: "error",
        message,
        code: str(payload.code) || str(e.code) || "error",
        // Bad requests (4xx but 429) fail the same way again; the rest may pass on retry.
        retryable: payload.retryable !== undefined ? Boolean(payload.retryable) : !(httpStatus >= 400 && httpStatus < 500 && httpStatus !== 429),
        queryId: meta.query_id ? String(meta.query_id) : undefined,
      };
    }
    case "agent": {
      const step = agentFrame(obj(payload.data ?? payload));
      return step ? { kind: "agent", step } : null;
    }
    case "options": {
      const d = obj(payload.data ?? payload);
      const options = list(d.options).filter((o): o is string => typeof o === "string" && o.trim() !== "");
      return options.length ? { kind: "options", options: { question: str(d.question), field: strOrNull(d.field), options } } : null;
    }
    case "products": {
      const d = obj(payload.data ?? payload);
      const products = list(d.products).map(productCard).filter((p): p is ProductCard => p !== null);
      return { kind: "products", products };
    }
    case "memory":
      return { kind: "memory", memory: memoryFrame(obj(payload.data ?? payload)) };
    default:
      return null;
  }
}

export interface StreamHandlers {
  onEvent(ev: StreamEvent): void;
}

const RESUME_ATTEMPTS = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when the browser is online again (at once if it is), or when `signal` aborts. */
function whenOnline(signal: AbortSignal): Promise<void> {
  if (navigator.onLine || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      removeEventListener("online", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    addEventListener("online", done);
    signal.addEventListener("abort", done);
  });
}

/**
 * Runs one generation. Returns when the stream ends ([DONE], done or error event).
 * A dropped connection is resumed from the last event id when the stream id is known.
 * Aborting `signal` stops reading (the caller also cancels server-side).
 */
export async function runQueryStream(
  body: unknown,
  handlers: StreamHandlers,
  signal: AbortSignal,
): Promise<void> {
  let streamId: string | null = null;
  let lastEventId: string | null = null;
  let finished = false;

  const consume = async (res: Response) => {
    const sid = res.headers.get("X-Stream-ID");
    if (sid && sid !== streamId) {
      streamId = sid;
      handlers.onEvent({ kind: "start", streamId: sid });
    }
    if (!res.body) throw new ApiError("Empty response from the server", res.status);
    for await (const frame of readSSE(res.body)) {
      if (frame.id !== null) lastEventId = frame.id;
      if (frame.data === "[DONE]") {
        finished = true;
        return;
      }
      let payload: Json;
      try {
        payload = JSON.parse(frame.data);
      } catch {
        continue;
      }
      if (!streamId) {
        const s = payload.stream_id ?? obj(payload.metadata).stream_id;
        if (s) {
          streamId = String(s);
          handlers.onEvent({ kind: "start", streamId });
        }
      }
      const ev = toEvent(payload, frame.event);
      if (!ev) continue;
      handlers.onEvent(ev);
      if (ev.kind === "error" || ev.kind === "done") finished = true;
    }
  };

  let res: Response;
  try {
    // The platform format, also when LEGACY_CLIENT_COMPAT makes the old client's the default.
    res = await fetch("/api/v1/query/stream?format=platform", {
      method: "POST",
      headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (signal.aborted) return;
    throw new ApiError("The server cannot be reached", 0, "network_error");
  }
  if (!res.ok) throw await errorFrom(res);
  try {
    await consume(res);
  } catch (err) {
    if (signal.aborted) return;
    if (!streamId) throw new ApiError("The connection dropped", 0, "network_error");
  }
  // Connection lost before the end: resume where we were (the server keeps generating and
  // replays the frames after Last-Event-ID). Time spent offline does not use up attempts.
  for (let attempt = 0; !finished && !signal.aborted && attempt < RESUME_ATTEMPTS; attempt++) {
    if (!streamId) break;
    handlers.onEvent({ kind: "reconnecting", attempt: attempt + 1 });
    await whenOnline(signal);
    await sleep(Math.min(4000, 300 * 2 ** attempt));
    if (signal.aborted) return;
    try {
      const h: Record<string, string> = { Accept: "text/event-stream" };
      if (lastEventId) h["Last-Event-ID"] = lastEventId;
      const again = await fetch(`/api/v1/query/stream/${encodeURIComponent(streamId)}`, {
        headers: headers(h),
        signal,
      });
      if (!again.ok) {
        // Gone (retention ended) or refused: final. Busy or failing server: try again.
        if (again.status >= 400 && again.status < 500 && again.status !== 408 && again.status !== 429) throw await errorFrom(again);
        continue;
      }
      handlers.onEvent({ kind: "resumed", after: lastEventId });
      attempt = -1; // reset backoff on a good reconnect
      await consume(again);
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && err.status !== 0) throw err;
    }
  }
  if (!finished && !signal.aborted) throw new ApiError("The connection dropped", 0, "network_error");
}

export async function cancelStream(streamId: string): Promise<void> {
  try {
    await fetch(`/api/v1/query/${encodeURIComponent(streamId)}/cancel`, {
      method: "POST",
      headers: headers(),
      keepalive: true,
    });
  } catch {
    /* the abort on our side still stops the display */
  }
}
