import { useEffect, useRef, useState } from "preact/hooks";
import type { Msg } from "../chat";
import { fmtInt, fmtMs } from "../format";
import { MarkdownView } from "../markdown";
import type { Tracker } from "../tracking";
import type { Citation } from "../types";
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

function Sources({ m, tracker }: { m: Msg; tracker: Tracker }) {
  const [open, setOpen] = useState<number | null>(null);
  if (!m.citations.length) return null;
  const current = open !== null ? m.citations[open] : null;
  const fileHref = (c: Citation) =>
    c.file_id ? `/api/v1/files/${encodeURIComponent(c.file_id)}/content${c.page != null ? `#page=${c.page}` : ""}` : c.url && /^https?:/i.test(c.url) ? c.url : null;
  return (
    <div class="sources" data-testid="sources">
      <span class="sources-label">Sources</span>
      <ul class="source-list">
        {m.citations.map((c, i) => (
          <li key={i}>
            <button
              class={`source-chip ${open === i ? "active" : ""}`}
              aria-expanded={open === i}
              data-track="source"
              onClick={() => {
                setOpen(open === i ? null : i);
                if (open !== i)
                  tracker.track("source_click", {
                    message_id: m.id,
                    query_id: m.queryId,
                    rank: i + 1,
                    file_id: c.file_id ?? null,
                    file_name: c.file_name ?? null,
                    page: c.page ?? null,
                    score: c.score ?? null,
                  });
              }}
            >
              <span class="source-n">{c.index ?? i + 1}</span>
              <Icon name="file" size={14} />
              <span class="source-name">{citationLabel(c)}</span>
            </button>
          </li>
        ))}
      </ul>
      {current && (
        <div class="source-detail" data-testid="source-detail">
          <div class="source-head">
            <strong>{citationLabel(current)}</strong>
            {current.score != null && <span class="muted"> · relevance {current.score.toFixed(2)}</span>}
          </div>
          <blockquote class="snippet">{current.snippet || current.text || "(no excerpt)"}</blockquote>
          {fileHref(current) && (
            <a
              href={fileHref(current)!}
              target="_blank"
              rel="noopener noreferrer"
              data-track="source-open"
              onClick={() => tracker.track("source_open", { message_id: m.id, query_id: m.queryId, file_id: current.file_id ?? null, page: current.page ?? null })}
            >
              <Icon name="link" size={14} /> Open {current.page != null ? `page ${current.page}` : "source"}
            </a>
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
}: {
  m: Msg;
  tracker: Tracker;
  isLast: boolean;
  onRegenerate: (m: Msg) => void;
  onRetry: (m: Msg) => void;
  onChange: () => void;
}) {
  const [copied, setCopied] = useState(false);
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
  const waiting = streaming && !m.content && !m.reasoning;
  return (
    <article
      class={`msg assistant ${m.status}`}
      data-message-id={m.id}
      data-query-id={m.queryId}
      data-role="assistant"
      data-status={m.status}
      aria-label="Answer"
      aria-busy={streaming}
    >
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
      <Sources m={m} tracker={tracker} />
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
