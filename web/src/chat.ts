// One conversation: its messages (reloaded from the query log) and the generation in flight.
// Messages are plain objects mutated as events arrive; `changed` hands views a new list (they
// re-render) at most once per animation frame.
import { api, ApiError, qs } from "./api";
import { uuid } from "./config";
import { cancelStream, runQueryStream, type AgentFrame, type AgentStatus, type MemoryFrame, type OptionsFrame, type ProductCard, type StreamEvent, type Usage } from "./stream";
import { reactive } from "./store";
import type { Tracker } from "./tracking";
import type { Citation, Page, QueryLog } from "./types";

export interface ImageAttachment {
  name: string;
  mime: string;
  dataUrl: string;
}

export interface Msg {
  id: string;
  role: "user" | "assistant";
  content: string;
  status: "streaming" | "done" | "stopped" | "error";
  attachments?: ImageAttachment[];
  // assistant only
  reasoning: string;
  stepTimes: number[]; // ms after thinking started at which each reasoning paragraph began
  thinkingStart?: number;
  thinkingMs?: number;
  thinkingOpen?: boolean; // the user's choice; undefined = automatic
  citations: Citation[];
  usage?: Usage;
  reasoningTokens?: number;
  queryId?: string;
  streamId?: string;
  model?: string;
  latencyMs?: number;
  ttftMs?: number;
  error?: string;
  errorRetryable?: boolean;
  startedAt?: number;
  replyTo?: string; // the user message this answers
  reconnecting?: boolean; // the stream dropped; resuming
  resumes?: number; // how many times the stream was resumed
  // the agents' work on this answer (stream frames; steps also from the query log)
  steps?: AgentFrame[];
  stepsOpen?: boolean; // the user's choice; undefined = automatic
  products?: ProductCard[];
  options?: OptionsFrame;
  optionChosen?: string; // the label sent from the option buttons
  memory?: MemoryFrame;
}

export interface SendOptions {
  provider: string | null;
  model: string | null;
  fileIds: string[];
  useRag: boolean;
  attachments: ImageAttachment[];
}

const STEP_STATUSES: readonly string[] = ["started", "ok", "error", "skipped"];

/** The agent steps a logged query carries (`agent_steps`, when the server lists them). */
function stepsFrom(q: QueryLog): AgentFrame[] | undefined {
  const rows = (q as { agent_steps?: unknown }).agent_steps;
  if (!Array.isArray(rows) || !rows.length) return undefined;
  const steps: AgentFrame[] = [];
  for (const r of rows as Record<string, unknown>[]) {
    if (!r || typeof r.agent !== "string") continue;
    const status = typeof r.status === "string" && STEP_STATUSES.includes(r.status) ? (r.status as AgentStatus) : "ok";
    const summary = [r.output_summary, r.error, r.summary].find((x) => typeof x === "string" && x) as string | undefined;
    const ms = r.latency_ms ?? r.duration_ms;
    steps.push({ agent: r.agent, step_id: String(r.id ?? r.step_id ?? steps.length), status, duration_ms: typeof ms === "number" ? ms : null, summary: summary ?? "" });
  }
  return steps.length ? steps : undefined;
}

function assistantFrom(q: QueryLog, replyTo: string): Msg {
  const status = q.status === "ok" || q.status === "done" || q.status === "completed" ? "done" : q.status === "cancelled" ? "stopped" : q.status === "error" || q.status === "failed" ? "error" : "done";
  return {
    id: `q-${q.id}`,
    role: "assistant",
    content: q.response_text ?? "",
    status: q.error && !q.response_text ? "error" : status,
    reasoning: q.reasoning_text ?? "",
    stepTimes: [],
    citations: q.citations ?? [],
    reasoningTokens: q.reasoning_tokens ?? undefined,
    usage: { input_tokens: q.input_tokens, output_tokens: q.output_tokens, reasoning_tokens: q.reasoning_tokens },
    queryId: q.id,
    model: `${q.provider}:${q.model}`,
    latencyMs: q.latency_ms ?? undefined,
    ttftMs: q.ttft_ms ?? undefined,
    error: q.error ?? undefined,
    errorRetryable: true,
    replyTo,
    steps: stepsFrom(q),
  };
}

function queryText(request: Record<string, unknown>): string {
  if (typeof request.query === "string") return request.query;
  if (typeof request.prompt === "string") return request.prompt;
  const msgs = request.messages;
  if (Array.isArray(msgs)) {
    for (let i = msgs.length - 1; i >= 0; i--) if (msgs[i]?.role === "user") return String(msgs[i].content ?? "");
  }
  return "";
}

export class Conversation {
  messages: Msg[] = [];
  loading = false;
  loadError: string | null = null;
  private controller: AbortController | null = null;
  private frame: number | null = null;

  constructor(
    readonly sessionId: string,
    private readonly tracker: Tracker,
  ) {
    reactive(this, "messages", "loading", "loadError");
  }

  /** Messages were changed in place: views re-render (now, or at the next animation frame). */
  private changed(now = false): void {
    if (now) {
      if (this.frame !== null) cancelAnimationFrame(this.frame);
      this.frame = null;
      this.messages = [...this.messages];
    } else if (this.frame === null) {
      this.frame = requestAnimationFrame(() => {
        this.frame = null;
        this.messages = [...this.messages];
      });
    }
  }

  get streaming(): Msg | null {
    return this.messages.find((m) => m.status === "streaming") ?? null;
  }

  /** Rebuild the conversation from the server's query log (oldest first). */
  async load(): Promise<void> {
    this.loading = true;
    this.changed(true);
    try {
      const rows: QueryLog[] = [];
      let cursor: string | null = null;
      do {
        const page: Page<QueryLog> = await api.get(`/api/v1/queries${qs({ session_id: this.sessionId, limit: 200, cursor })}`);
        rows.push(...page.items);
        cursor = page.next_cursor ?? null;
      } while (cursor && rows.length < 2000);
      rows.reverse();
      const msgs: Msg[] = [];
      for (const q of rows) {
        const user: Msg = { id: `u-${q.id}`, role: "user", content: queryText(q.request ?? {}), status: "done", reasoning: "", stepTimes: [], citations: [] };
        msgs.push(user, assistantFrom(q, user.id));
      }
      if (!this.streaming) this.messages = msgs;
      this.loadError = null;
    } catch (err) {
      this.loadError = (err as Error).message;
    } finally {
      this.loading = false;
      this.changed(true);
    }
  }

  private history(before: Msg): { role: string; content: string }[] {
    const out: { role: string; content: string }[] = [];
    for (const m of this.messages) {
      if (m === before) break;
      if (m.role === "assistant" && (m.status === "error" || !m.content)) {
        if (out.length && out[out.length - 1].role === "user") out.pop();
        continue;
      }
      out.push({ role: m.role, content: m.content });
    }
    return out;
  }

  async send(text: string, opts: SendOptions): Promise<void> {
    if (this.streaming) return;
    const user: Msg = { id: uuid(), role: "user", content: text, status: "done", attachments: opts.attachments, reasoning: "", stepTimes: [], citations: [] };
    const answer = this.newAnswer(user.id);
    this.messages.push(user, answer);
    this.tracker.track("query_submit", {
      message_id: answer.id,
      user_message_id: user.id,
      chars: text.length,
      provider: opts.provider,
      model: opts.model,
      file_ids: opts.fileIds,
      attachments: opts.attachments.length,
    });
    this.changed(true);
    await this.generate(user, answer, opts);
  }

  /** Regenerate (or retry after an error) the answer `msgId`. */
  async regenerate(msgId: string, opts: SendOptions, reason: "regenerate" | "retry"): Promise<void> {
    if (this.streaming) return;
    const idx = this.messages.findIndex((m) => m.id === msgId);
    if (idx < 0) return;
    const old = this.messages[idx];
    const user = this.messages.slice(0, idx).reverse().find((m) => m.role === "user");
    if (!user) return;
    const answer = this.newAnswer(user.id);
    this.messages.splice(idx, 1, answer);
    this.tracker.track(reason, { message_id: answer.id, previous_message_id: old.id, previous_query_id: old.queryId });
    this.changed(true);
    await this.generate(user, answer, { ...opts, attachments: user.attachments ?? [] });
  }

  private newAnswer(replyTo: string): Msg {
    return { id: uuid(), role: "assistant", content: "", status: "streaming", reasoning: "", stepTimes: [], citations: [], startedAt: performance.now(), replyTo };
  }

  private async generate(user: Msg, answer: Msg, opts: SendOptions): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    const body: Record<string, unknown> = {
      session_id: this.sessionId,
      query: user.content,
      history: this.history(user),
      client_message_id: answer.id,
    };
    if (opts.provider) body.model_provider = opts.provider;
    if (opts.model) body.model_name = opts.model;
    body.use_rag = opts.useRag;
    if (opts.fileIds.length) body.file_ids = opts.fileIds;
    if (opts.attachments.length) {
      body.attachments = opts.attachments.map((a) => ({
        type: "image",
        name: a.name,
        mime: a.mime,
        base64: a.dataUrl.slice(a.dataUrl.indexOf(",") + 1),
      }));
    }
    try {
      await runQueryStream(body, { onEvent: (ev) => this.apply(answer, ev) }, controller.signal);
      if (answer.status === "streaming") answer.status = controller.signal.aborted ? "stopped" : "done";
    } catch (err) {
      const e = err as ApiError;
      answer.status = "error";
      answer.error = e.message || "Something went wrong";
      answer.errorRetryable = e instanceof ApiError ? e.retryable || e.status === 0 : true;
      this.tracker.track("response_error", { message_id: answer.id, error: answer.error, status: e.status ?? 0 });
    } finally {
      if (this.controller === controller) this.controller = null;
      this.closeThinking(answer);
      if (answer.status === "done") {
        this.tracker.track("response_complete", {
          message_id: answer.id,
          query_id: answer.queryId,
          chars: answer.content.length,
          reasoning_chars: answer.reasoning.length,
          citations: answer.citations.length,
          latency_ms: answer.latencyMs,
          ttft_ms: answer.ttftMs,
        });
      }
      this.changed(true);
    }
  }

  private closeThinking(m: Msg): void {
    if (m.thinkingStart !== undefined && m.thinkingMs === undefined) m.thinkingMs = performance.now() - m.thinkingStart;
  }

  private apply(m: Msg, ev: StreamEvent): void {
    if (ev.kind !== "reconnecting") m.reconnecting = false;
    switch (ev.kind) {
      case "reconnecting":
        if (!m.reconnecting) this.tracker.track("stream_reconnect", { message_id: m.id, stream_id: m.streamId, chars: m.content.length });
        m.reconnecting = true;
        break;
      case "resumed":
        m.resumes = (m.resumes ?? 0) + 1;
        break;
      case "start":
        m.streamId = ev.streamId;
        if (ev.queryId) m.queryId = ev.queryId;
        if (ev.model) m.model = ev.model;
        break;
      case "thought": {
        const now = performance.now();
        if (m.thinkingStart === undefined) m.thinkingStart = now;
        m.reasoning += ev.text;
        // A new paragraph of reasoning is a new step: note when it began.
        const steps = m.reasoning.split(/\n\s*\n/).filter((x) => x.trim()).length;
        while (m.stepTimes.length < steps) m.stepTimes.push(now - m.thinkingStart);
        break;
      }
      case "token":
        if (!m.content && m.startedAt !== undefined && m.ttftMs === undefined) m.ttftMs = performance.now() - m.startedAt;
        this.closeThinking(m);
        m.content += ev.text;
        break;
      case "citation": {
        const c = ev.citation;
        const key = `${c.file_id ?? c.url ?? c.title}|${c.page ?? ""}|${c.index ?? ""}|${(c.snippet ?? "").slice(0, 40)}`;
        if (!m.citations.some((x) => `${x.file_id ?? x.url ?? x.title}|${x.page ?? ""}|${x.index ?? ""}|${(x.snippet ?? "").slice(0, 40)}` === key))
          m.citations.push(c);
        break;
      }
      case "usage":
        m.usage = { ...m.usage, ...Object.fromEntries(Object.entries(ev.usage).filter(([, v]) => v !== null && v !== undefined)) };
        if (ev.usage.reasoning_tokens != null) m.reasoningTokens = ev.usage.reasoning_tokens;
        break;
      case "done": {
        const meta = ev.meta;
        m.queryId = meta.query_id ?? m.queryId;
        m.streamId = meta.stream_id ?? m.streamId;
        // Server-measured times (ms) replace the browser's own.
        const latency = meta.latency_ms ?? meta.latency;
        const ttft = meta.ttft_ms ?? meta.ttft;
        if (latency != null) m.latencyMs = latency;
        if (ttft != null) m.ttftMs = ttft;
        if (meta.provider && meta.model) m.model = `${meta.provider}:${meta.model}`;
        const cot = meta.chain_of_thought;
        if (cot?.total_thinking_time_ms != null && m.reasoning) m.thinkingMs = cot.total_thinking_time_ms;
        if (cot?.reasoning_tokens != null) m.reasoningTokens = cot.reasoning_tokens;
        const tokens = meta.tokens;
        if (tokens) {
          m.usage = { ...m.usage, ...tokens };
          if (tokens.reasoning_tokens != null) m.reasoningTokens = tokens.reasoning_tokens;
        }
        if (meta.reasoning_tokens != null) m.reasoningTokens = meta.reasoning_tokens;
        if (meta.thinking_ms != null) m.thinkingMs = meta.thinking_ms;
        m.status = meta.status === "cancelled" ? "stopped" : "done";
        break;
      }
      case "agent": {
        const steps = m.steps ?? [];
        const i = steps.findIndex((s) => s.step_id === ev.step.step_id);
        if (i >= 0) steps[i] = { ...ev.step, summary: ev.step.summary || steps[i].summary };
        else steps.push(ev.step);
        m.steps = [...steps];
        break;
      }
      case "options":
        m.options = ev.options;
        m.optionChosen = undefined;
        break;
      case "products": {
        const seen = new Set((m.products ?? []).map((p) => p.id));
        m.products = [...(m.products ?? []), ...ev.products.filter((p) => !seen.has(p.id))];
        break;
      }
      case "memory": {
        const prev = m.memory ?? { used: [], changes: [] };
        const used = new Set(prev.used.map((u) => u.id || u.text));
        m.memory = {
          used: [...prev.used, ...ev.memory.used.filter((u) => !used.has(u.id || u.text))],
          changes: [...prev.changes, ...ev.memory.changes],
        };
        break;
      }
      case "error":
        // A partial answer stays visible above the error.
        m.status = "error";
        m.error = ev.message;
        m.errorRetryable = ev.retryable;
        if (ev.queryId) m.queryId = ev.queryId;
        break;
    }
    this.changed();
  }

  /** The user picked `label` from the answer's option buttons (sent as the next message). */
  chooseOption(m: Msg, label: string): void {
    m.optionChosen = label;
    this.tracker.track("option_select", { message_id: m.id, query_id: m.queryId, field: m.options?.field ?? null, label: label.slice(0, 60) });
    this.changed(true);
  }

  /** Stop the generation: here at once, and on the server (cancels the upstream call). */
  stop(): void {
    const m = this.streaming;
    if (!m) return;
    this.tracker.track("stop", { message_id: m.id, query_id: m.queryId, chars: m.content.length });
    if (m.streamId) void cancelStream(m.streamId);
    this.controller?.abort();
    m.status = "stopped";
    this.closeThinking(m);
    this.changed(true);
  }

  dispose(): void {
    // Switching conversations does not stop a generation on the server; it is logged there.
    this.controller?.abort();
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
  }
}
