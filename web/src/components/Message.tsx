import { useEffect, useRef, useState } from "preact/hooks";
import { fetchBlob } from "../auth";
import type { Msg } from "../chat";
import { fmtInt, fmtMs } from "../format";
import { MarkdownView } from "../markdown";
import type { Tracker } from "../tracking";
import type { Citation } from "../types";
import { AgentSteps, MemoryUsed, OptionButtons, ProductCards } from "./AgentViews";
import { Icon } from "./Icon";

/** Markdown body: updated in place block by block while tokens stream in. */
function Markdown({ text }: { text: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const view = useRef<MarkdownView | null>(null);
  useEffect(() => {
    if (!ref.current) return;
    if (!view.current) view.current = new MarkdownView(ref.current);
    view.current.update(text);
  }, [text]);
  return <div class="markdown" ref={ref} />;
}

function thinkingSummary(m: Msg, live: boolean): string {
  if (live) return "Thinking…";
  const parts = [`Thought for ${fmtMs(m.thinkingMs ?? null)}`];
  if (m.thinkingMs == null) parts[0] = "Reasoning";
  if (m.reasoningTokens != null) parts.push(`${fmtInt(m.reasoningTokens)} reasoning tokens`);
  return parts.join(" · ");
}

/** Collapsible reasoning: open while the model thinks, then collapsed with its duration. */
function Thinking({ m, tracker, onChange }: { m: Msg; tracker: Tracker; onChange: () => void }) {
  const live = m.status === "streaming" && m.thinkingStart !== undefined && m.thinkingMs === undefined;
  const open = m.thinkingOpen ?? live;
  const steps = m.reasoning.split(/\n\s*\n/).filter((s) => s.trim());
  const bodyRef = useRef<HTMLOListElement>(null);
  useEffect(() => {
    if (live && bodyRef.current) bodyRef.current.scrollTop = bodyRef.current.scrollHeight;
  });
  return (
    <details class={`thinking ${live ? "live" : ""}`} open={open} data-testid="thinking">
      <summary
        data-track="thinking-toggle"
        onClick={(e) => {
          e.preventDefault();
          m.thinkingOpen = !open;
          tracker.track(open ? "thinking_close" : "thinking_open", {
            message_id: m.id,
            query_id: m.queryId,
            live,
            reasoning_chars: m.reasoning.length,
          });
          onChange();
        }}
      >
        <Icon name="brain" size={16} />
        <span class="thinking-label" data-testid="thinking-summary">{thinkingSummary(m, live)}</span>
        {live && <span class="spinner" aria-hidden="true" />}
      </summary>
      <ol class="thinking-steps" ref={bodyRef} aria-live={live ? "polite" : "off"}>
        {steps.map((s, i) => (
          <li key={i}>
            {m.stepTimes[i] !== undefined && <span class="step-time">{fmtMs(m.stepTimes[i])}</span>}
            <span class="step-text">{s}</span>
          </li>
        ))}
      </ol>
    </details>
  );
}

function citationLabel(c: Citation): string {
  const name = c.file_name || c.title || c.url || "source";
  return c.page != null ? `${name}, p. ${c.page}` : name;
}

// Types a browser may show in a tab: anything else from the user's files is downloaded
// (an uploaded HTML file must not run as a page of this origin).
const VIEWABLE = /^(application\/pdf|text\/plain|image\/(png|jpeg|gif|webp))$/;

/** Opens a cited file (at its page) in a new tab: fetched with the user's credentials. */
async function openCitedFile(c: Citation): Promise<void> {
  const { blob, filename } = await fetchBlob(`/api/v1/files/${encodeURIComponent(c.file_id!)}/content`);
  const mime = blob.type.split(";")[0].trim().toLowerCase();
  const type = mime.startsWith("text/") ? "text/plain" : mime;
  const url = URL.createObjectURL(new Blob([blob], { type: VIEWABLE.test(type) ? type : "application/octet-stream" }));
  setTimeout(() => URL.revokeObjectURL(url), 120_000);
  const a = document.createElement("a");
  a.href = VIEWABLE.test(type) && c.page != null ? `${url}#page=${c.page}` : url;
  if (VIEWABLE.test(type)) {
    a.target = "_blank";
    a.rel = "noopener";
  } else {
    a.download = filename ?? c.file_name ?? "source";
  }
  document.body.appendChild(a);
  a.click();
  a.remove();
}

/** The sources of an answer: chips; one opens with its excerpt (also from an [n] marker). */
function Sources({ m, tracker, selected, onSelect }: { m: Msg; tracker: Tracker; selected: number | null; onSelect: (i: number | null, via: string) => void }) {
  const [openError, setOpenError] = useState<string | null>(null);
  const detail = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (selected !== null) detail.current?.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }, [selected]);
  if (!m.citations.length) return null;
  const current = selected !== null ? m.citations[selected] : null;
  const webUrl = (c: Citation) => (!c.file_id && c.url && /^https?:/i.test(c.url) ? c.url : null);
  const open = async (c: Citation) => {
    tracker.track("source_open", { message_id: m.id, query_id: m.queryId, file_id: c.file_id ?? null, page: c.page ?? null });
    setOpenError(null);
    try {
      await openCitedFile(c);
    } catch (err) {
      setOpenError(`Cannot open the file: ${(err as Error).message}`);
    }
  };
  return (
    <div class="sources" data-testid="sources">
      <span class="sources-label">Sources</span>
      <ul class="source-list">
        {m.citations.map((c, i) => (
          <li key={i}>
            <button
              class={`source-chip ${selected === i ? "active" : ""}`}
              aria-expanded={selected === i}
              data-track="source"
              data-testid="source-chip"
              onClick={() => onSelect(selected === i ? null : i, "chip")}
            >
              <span class="source-n">{c.index ?? i + 1}</span>
              <Icon name="file" size={14} />
              <span class="source-name">{citationLabel(c)}</span>
            </button>
          </li>
        ))}
      </ul>
      {current && (
        <div class="source-detail" data-testid="source-detail" ref={detail}>
          <div class="source-head">
            <strong>{citationLabel(current)}</strong>
            {current.score != null && <span class="muted"> · relevance {current.score.toFixed(2)}</span>}
          </div>
          <blockquote class="snippet">{current.snippet || "(no excerpt)"}</blockquote>
          {current.file_id ? (
            <button class="link-btn" data-track="source-open" data-testid="source-open" onClick={() => void open(current)}>
              <Icon name="link" size={14} /> Open {current.page != null ? `page ${current.page}` : "file"}
            </button>
          ) : (
            webUrl(current) && (
              <a
                href={webUrl(current)!}
                target="_blank"
                rel="noopener noreferrer"
                data-track="source-open"
                onClick={() => tracker.track("source_open", { message_id: m.id, query_id: m.queryId, url: current.url })}
              >
                <Icon name="link" size={14} /> Open source
              </a>
            )
          )}
          {openError && (
            <div class="inline-error small" role="alert">
              {openError}
            </div>
          )}
        </div>
      )}
    </div>
  );
}

export function MessageView({
  m,
  tracker,
  isLast,
  onRegenerate,
  onRetry,
  onChange,
  optionsEnabled,
  onOption,
}: {
  m: Msg;
  tracker: Tracker;
  isLast: boolean;
  onRegenerate: (m: Msg) => void;
  onRetry: (m: Msg) => void;
  onChange: () => void;
  optionsEnabled: boolean;
  onOption: (m: Msg, label: string) => void;
}) {
  const [copied, setCopied] = useState(false);
  const [source, setSource] = useState<number | null>(null);
  const selectSource = (i: number | null, via: string) => {
    setSource(i);
    if (i === null) return;
    const c = m.citations[i];
    tracker.track("source_click", {
      message_id: m.id,
      query_id: m.queryId,
      rank: i + 1,
      via,
      file_id: c.file_id ?? null,
      file_name: c.file_name ?? null,
      page: c.page ?? null,
      score: c.score ?? null,
    });
  };
  // An [n] marker in the answer (a link to #source-n) opens that source.
  const onAnswerClick = (e: MouseEvent) => {
    const ref = (e.target as Element).closest?.("a.cite-ref");
    if (!ref) return;
    e.preventDefault();
    const n = Number((ref.getAttribute("href") || "").replace("#source-", ""));
    const i = m.citations.findIndex((c, k) => (c.index ?? k + 1) === n);
    if (i >= 0) selectSource(i, "marker");
  };
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(m.content);
    } catch {
      const ta = document.createElement("textarea");
      ta.value = m.content;
      document.body.appendChild(ta);
      ta.select();
      document.execCommand("copy");
      ta.remove();
    }
    tracker.track("copy", { message_id: m.id, query_id: m.queryId, via: "button", chars: m.content.length });
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };

  if (m.role === "user") {
    return (
      <article class="msg user" data-message-id={m.id} data-role="user" aria-label="Your message">
        {m.attachments?.length ? (
          <div class="attachments">
            {m.attachments.map((a) => (
              <img key={a.name} src={a.dataUrl} alt={a.name} class="thumb" />
            ))}
          </div>
        ) : null}
        <div class="bubble">{m.content}</div>
      </article>
    );
  }

  const streaming = m.status === "streaming";
  const waiting = streaming && !m.content && !m.reasoning && !m.steps?.length;
  return (
    <article
      class={`msg assistant ${m.status}`}
      data-message-id={m.id}
      data-query-id={m.queryId}
      data-role="assistant"
      data-status={m.status}
      aria-label="Answer"
      aria-busy={streaming}
      onClick={onAnswerClick}
    >
      <AgentSteps m={m} tracker={tracker} onChange={onChange} />
      {m.reasoning && <Thinking m={m} tracker={tracker} onChange={onChange} />}
      {waiting && (
        <div class="typing" aria-label="Waiting for the model">
          <span />
          <span />
          <span />
        </div>
      )}
      {m.content && <Markdown text={m.content} />}
      {streaming && m.content && <span class="caret" aria-hidden="true" />}
      {streaming && m.reconnecting && (
        <div class="note" role="status" data-testid="reconnecting">
          Connection lost: reconnecting…
        </div>
      )}
      <ProductCards m={m} tracker={tracker} />
      <OptionButtons m={m} enabled={optionsEnabled} onOption={onOption} />
      <MemoryUsed m={m} />
      <Sources m={m} tracker={tracker} selected={source} onSelect={selectSource} />
      {m.status === "error" && (
        <div class="inline-error" role="alert" data-testid="message-error">
          <span>{m.error || "Something went wrong"}</span>
          <button class="btn small" data-track="retry" onClick={() => onRetry(m)}>
            <Icon name="refresh" size={14} /> Retry
          </button>
        </div>
      )}
      {m.status === "stopped" && <div class="note" data-testid="stopped-note">Stopped</div>}
      {!streaming && (
        <div class="msg-actions">
          {m.content && (
            <button class="icon-btn" aria-label="Copy answer" title="Copy" data-track="copy" onClick={() => void copy()}>
              <Icon name={copied ? "check" : "copy"} size={16} />
            </button>
          )}
          {isLast && m.status !== "error" && (
            <button class="icon-btn" aria-label="Regenerate answer" title="Regenerate" data-track="regenerate" onClick={() => onRegenerate(m)}>
              <Icon name="refresh" size={16} />
            </button>
          )}
          <span class="msg-meta">
            {[
              m.model,
              m.ttftMs != null ? `first token ${fmtMs(m.ttftMs)}` : null,
              m.latencyMs != null ? `total ${fmtMs(m.latencyMs)}` : null,
              m.usage?.output_tokens != null ? `${fmtInt(m.usage.output_tokens)} tokens` : null,
            ]
              .filter(Boolean)
              .join(" · ")}
          </span>
        </div>
      )}
    </article>
  );
}
