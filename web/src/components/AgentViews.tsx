// What the agents add to an answer: their steps (live, with timings), product cards, option
// buttons and the memories used or changed. Shapes from the stream frames (stream.ts).
import type { Msg } from "../chat";
import { fmtMs } from "../format";
import type { AgentFrame, ProductCard } from "../stream";
import type { Tracker } from "../tracking";
import { Icon } from "./Icon";

const STATUS_LABEL: Record<string, string> = { started: "running", ok: "done", error: "failed", skipped: "skipped" };

function StepIcon({ step, live }: { step: AgentFrame; live: boolean }) {
  if (step.status === "started") return live ? <span class="spinner" aria-hidden="true" /> : <Icon name="skip" size={14} />;
  if (step.status === "ok") return <Icon name="check" size={14} />;
  if (step.status === "error") return <Icon name="x" size={14} />;
  return <Icon name="skip" size={14} />;
}

function stepsSummary(steps: AgentFrame[], live: boolean): string {
  if (live) {
    const running = [...steps].reverse().find((s) => s.status === "started");
    return running ? `Working: ${running.agent}…` : "Working…";
  }
  const total = steps.reduce((t, s) => t + (s.duration_ms ?? 0), 0);
  const failed = steps.filter((s) => s.status === "error").length;
  return [`${steps.length} step${steps.length === 1 ? "" : "s"}`, total ? fmtMs(total) : null, failed ? `${failed} failed` : null].filter(Boolean).join(" · ");
}

/** The agents' steps: open while they work, collapsed once the answer starts (the user may
 * open or close it; their choice stays). */
export function AgentSteps({ m, tracker, onChange }: { m: Msg; tracker: Tracker; onChange: () => void }) {
  const steps = m.steps ?? [];
  if (!steps.length) return null;
  const streaming = m.status === "streaming";
  const live = streaming && !m.content;
  const open = m.stepsOpen ?? live;
  return (
    <details class={`agent-steps ${live ? "live" : ""}`} open={open} data-testid="agent-steps">
      <summary
        data-track="steps-toggle"
        onClick={(e) => {
          e.preventDefault();
          m.stepsOpen = !open;
          tracker.track(open ? "steps_close" : "steps_open", { message_id: m.id, query_id: m.queryId, live, steps: steps.length });
          onChange();
        }}
      >
        <Icon name="steps" size={16} />
        <span class="steps-label">Steps</span>
        <span class="muted" data-testid="agent-steps-summary">
          {stepsSummary(steps, live)}
        </span>
        {live && <span class="spinner" aria-hidden="true" />}
      </summary>
      <ol class="agent-step-list" aria-live={live ? "polite" : "off"}>
        {steps.map((s) => (
          <li key={s.step_id} class={`agent-step ${s.status}`} data-testid="agent-step" data-agent={s.agent} data-status={s.status}>
            <span class="step-icon" title={STATUS_LABEL[s.status] ?? s.status} aria-label={STATUS_LABEL[s.status] ?? s.status}>
              <StepIcon step={s} live={streaming} />
            </span>
            <span class="step-agent">{s.agent}</span>
            <span class="step-summary" title={s.summary}>
              {s.summary}
            </span>
            {s.duration_ms != null && <span class="agent-step-time">{fmtMs(s.duration_ms)}</span>}
          </li>
        ))}
      </ol>
    </details>
  );
}

function money(price: number | null, currency: string | null): string {
  if (price == null) return "";
  if (currency) {
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(price);
    } catch {
      return `${price.toFixed(2)} ${currency}`;
    }
  }
  return price.toFixed(2);
}

const webUrl = (u: string | null) => (u && /^https?:\/\//i.test(u) ? u : null);

function ProductCardView({ p, m, tracker }: { p: ProductCard; m: Msg; tracker: Tracker }) {
  const url = webUrl(p.url);
  const image = p.image_url && /^(https?:\/\/|\/|data:image\/)/i.test(p.image_url) ? p.image_url : null;
  const opened = () => tracker.track("product_open", { message_id: m.id, query_id: m.queryId, product_id: p.id });
  return (
    <li class="product-card" data-testid="product-card" data-product-id={p.id}>
      {image && (
        <img
          class="product-image"
          src={image}
          alt=""
          loading="lazy"
          referrerpolicy="no-referrer"
          onError={(e) => ((e.currentTarget as HTMLImageElement).style.display = "none")}
        />
      )}
      <div class="product-body">
        <div class="product-title" data-testid="product-title">
          {url ? (
            <a href={url} target="_blank" rel="noopener noreferrer nofollow" onClick={opened}>
              {p.title}
            </a>
          ) : (
            p.title
          )}
        </div>
        <div class="product-meta">
          {p.price != null && (
            <span class="product-price" data-testid="product-price">
              {money(p.price, p.currency)}
            </span>
          )}
          {p.category && <span class="pill">{p.category}</span>}
          {p.rating != null && (
            <span class="product-rating" title={`Rated ${p.rating.toFixed(1)} of 5`} aria-label={`Rated ${p.rating.toFixed(1)} of 5`}>
              ★ {p.rating.toFixed(1)}
            </span>
          )}
        </div>
        {p.description && <p class="product-desc small muted">{p.description}</p>}
        {url && (
          <a class="link-btn small" href={url} target="_blank" rel="noopener noreferrer nofollow" onClick={opened} data-track="product-open" data-testid="product-link">
            <Icon name="link" size={14} /> View
          </a>
        )}
      </div>
    </li>
  );
}

export function ProductCards({ m, tracker }: { m: Msg; tracker: Tracker }) {
  if (!m.products?.length) return null;
  return (
    <ul class="product-cards" data-testid="product-cards" aria-label="Products">
      {m.products.map((p) => (
        <ProductCardView key={p.id} p={p} m={m} tracker={tracker} />
      ))}
    </ul>
  );
}

/** The answer's question with buttons; a click sends the label. Usable on the latest answer
 * only, once. */
export function OptionButtons({ m, enabled, onOption }: { m: Msg; enabled: boolean; onOption: (m: Msg, label: string) => void }) {
  const o = m.options;
  if (!o?.options.length) return null;
  const asked = o.question && !m.content.includes(o.question.trim());
  const usable = enabled && !m.optionChosen && m.status !== "streaming";
  return (
    <div class="options" data-testid="options" data-field={o.field ?? undefined}>
      {asked && <p class="options-question small">{o.question}</p>}
      <div class="option-buttons" role="group" aria-label={o.question || "Options"}>
        {o.options.map((label) => (
          <button
            key={label}
            class={`btn small option ${m.optionChosen === label ? "chosen" : ""}`}
            disabled={!usable}
            aria-pressed={m.optionChosen === label}
            data-track="option"
            data-testid="option"
            onClick={() => onOption(m, label)}
          >
            {m.optionChosen === label && <Icon name="check" size={14} />} {label}
          </button>
        ))}
      </div>
    </div>
  );
}

const CHANGE_LABEL: Record<string, string> = { add: "Saved", update: "Updated", delete: "Forgot" };

/** The memories the answer drew on, and what it saved, changed or forgot. */
export function MemoryUsed({ m }: { m: Msg }) {
  const mem = m.memory;
  if (!mem || (!mem.used.length && !mem.changes.length)) return null;
  return (
    <div class="memory-used" data-testid="memory-used">
      {mem.used.length > 0 && (
        <>
          <span class="memory-label">
            <Icon name="bookmark" size={14} /> Memories used
          </span>
          <ul class="memory-chips">
            {mem.used.map((u) => (
              <li key={u.id || u.text} class="memory-chip" data-testid="memory-chip" title={u.text}>
                {u.text}
              </li>
            ))}
          </ul>
        </>
      )}
      {mem.changes.length > 0 && (
        <ul class="memory-changes" aria-label="Memory changes">
          {mem.changes.map((c, i) => (
            <li key={i} class={`memory-change ${c.action}`} data-testid="memory-change" data-action={c.action}>
              {CHANGE_LABEL[c.action] ?? c.action}: {c.text}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
