// Page-wide interaction tracking: clicks, debounced scrolls, copy, focus and visibility,
// dwell time on the page and on each message. Events name the message they concern
// (the closest element carrying data-message-id).
import type { Tracker } from "./tracking";

function describe(el: Element | null): Record<string, unknown> {
  if (!el) return {};
  const target = el.closest("[data-track],button,a,summary,select,input,textarea,label,[role=button]") ?? el;
  const message = el.closest<HTMLElement>("[data-message-id]");
  const out: Record<string, unknown> = {
    target: (target as HTMLElement).dataset?.track ?? target.tagName.toLowerCase(),
    tag: target.tagName.toLowerCase(),
  };
  if (target.id) out.id = target.id;
  // Labels of controls only: never the text a user typed or the model wrote.
  if (target.matches("button,summary,a,[role=button]")) {
    const label = (target.getAttribute("aria-label") || target.textContent || "").trim();
    if (label) out.label = label.slice(0, 60);
  }
  if (message) {
    out.message_id = message.dataset.messageId;
    if (message.dataset.queryId) out.query_id = message.dataset.queryId;
    if (message.dataset.role) out.role = message.dataset.role;
  }
  return out;
}

export function installInteractionTracking(tracker: Tracker): void {
  document.addEventListener(
    "click",
    (e) => {
      const el = e.target as Element | null;
      tracker.track("click", { ...describe(el), x: Math.round(e.clientX), y: Math.round(e.clientY) });
    },
    { capture: true, passive: true },
  );

  // Scrolls: one event per container after it rests for 400 ms.
  const timers = new WeakMap<EventTarget, number>();
  document.addEventListener(
    "scroll",
    (e) => {
      const target = e.target as Element | Document;
      const prev = timers.get(target);
      if (prev) clearTimeout(prev);
      timers.set(
        target,
        window.setTimeout(() => {
          const el = target instanceof Document ? document.scrollingElement! : (target as HTMLElement);
          const visible = topVisibleMessage(el);
          tracker.track("scroll", {
            container: (el as HTMLElement).dataset?.track ?? (el.id || el.tagName.toLowerCase()),
            top: Math.round(el.scrollTop),
            height: el.clientHeight,
            max: el.scrollHeight - el.clientHeight,
            ...(visible ? { message_id: visible } : {}),
          });
        }, 400),
      );
    },
    { capture: true, passive: true },
  );

  document.addEventListener("copy", () => {
    const sel = document.getSelection();
    const node = sel?.anchorNode;
    const el = node ? (node.nodeType === 1 ? (node as Element) : node.parentElement) : null;
    tracker.track("copy", { ...describe(el), via: "selection", chars: sel ? sel.toString().length : 0 });
  });

  addEventListener("focus", () => tracker.track("focus", {}));
  addEventListener("blur", () => tracker.track("blur", {}));

  // Dwell: visible time on the page, reported whenever the page is hidden.
  let visibleSince = document.visibilityState === "visible" ? performance.now() : null;
  const reportDwell = (reason: string) => {
    if (visibleSince !== null) {
      tracker.track("dwell", { ms: Math.round(performance.now() - visibleSince), reason });
      visibleSince = null;
    }
    messageDwell.flushAll(reason);
  };
  document.addEventListener("visibilitychange", () => {
    tracker.track("visibility", { state: document.visibilityState });
    if (document.visibilityState === "hidden") {
      reportDwell("hidden");
      tracker.beacon();
    } else {
      visibleSince = performance.now();
      messageDwell.resume();
    }
  });
  addEventListener("pagehide", () => {
    reportDwell("pagehide");
    tracker.beacon();
  });

  const messageDwell = new MessageDwell(tracker);
}

function topVisibleMessage(container: Element): string | null {
  const box = container.getBoundingClientRect();
  for (const el of container.querySelectorAll<HTMLElement>("[data-message-id]")) {
    const r = el.getBoundingClientRect();
    if (r.bottom > box.top && r.top < box.bottom) return el.dataset.messageId ?? null;
  }
  return null;
}

/** Time each message spends at least half visible, reported when it leaves the view. */
class MessageDwell {
  private since = new Map<Element, number>();
  private observer: IntersectionObserver;

  constructor(private tracker: Tracker) {
    this.observer = new IntersectionObserver((entries) => this.onChange(entries), { threshold: 0.5 });
    const watch = (root: ParentNode) =>
      root.querySelectorAll?.("[data-message-id]").forEach((el) => this.observer.observe(el));
    new MutationObserver((records) => {
      for (const r of records) {
        r.addedNodes.forEach((n) => {
          if (n instanceof HTMLElement) {
            if (n.dataset.messageId) this.observer.observe(n);
            watch(n);
          }
        });
        r.removedNodes.forEach((n) => {
          if (n instanceof HTMLElement && this.since.has(n)) this.report(n, "removed");
        });
      }
    }).observe(document.body, { childList: true, subtree: true });
    watch(document);
  }

  private onChange(entries: IntersectionObserverEntry[]): void {
    for (const e of entries) {
      if (e.isIntersecting && document.visibilityState === "visible") this.since.set(e.target, performance.now());
      else if (this.since.has(e.target)) this.report(e.target, "left_view");
    }
  }

  private report(el: Element, reason: string): void {
    const start = this.since.get(el);
    this.since.delete(el);
    if (start === undefined) return;
    const ms = Math.round(performance.now() - start);
    if (ms < 300) return;
    const h = el as HTMLElement;
    this.tracker.track("message_dwell", {
      message_id: h.dataset.messageId,
      ...(h.dataset.queryId ? { query_id: h.dataset.queryId } : {}),
      role: h.dataset.role,
      ms,
      reason,
    });
  }

  flushAll(reason: string): void {
    for (const el of [...this.since.keys()]) this.report(el, reason);
  }

  resume(): void {
    // Re-observe so the observer reports what is visible now.
    for (const el of document.querySelectorAll("[data-message-id]")) {
      this.observer.unobserve(el);
      this.observer.observe(el);
    }
  }
}
