// Research event tracking. Every event gets a client UUID and is written to localStorage
// first; a batch leaves the queue only when the server acknowledges it (accepted or
// duplicate). Failed sends are retried with backoff; on page hide the queue goes out with a
// keepalive fetch, which outlives the page like a beacon but carries the caller's token or
// key (and stays queued: the server de-duplicates when it is sent again later).
import { errorFrom, headers } from "./api";
import { auth } from "./auth";
import { storage, uuid } from "./config";
import type { EventsAccepted } from "./types";

export interface QueuedEvent {
  session_id: string;
  event: { event_id: string; t: number; type: string; data: Record<string, unknown> };
}

interface PendingSession {
  session_id: string;
  body: Record<string, unknown>;
}

const QUEUE_KEY = "llmp.events.queue";
const SESSIONS_KEY = "llmp.events.sessions";
const MAX_QUEUE = 5000;
const BATCH = 200;
const FLUSH_MS = 2000;

export function environment(): Record<string, unknown> {
  const ua = navigator.userAgent;
  const uaData = (navigator as unknown as { userAgentData?: { platform?: string; mobile?: boolean } }).userAgentData;
  const browser =
    /Edg\/([\d.]+)/.exec(ua)?.[0] ??
    /(?:Chrome|Chromium)\/([\d.]+)/.exec(ua)?.[0] ??
    /Firefox\/([\d.]+)/.exec(ua)?.[0] ??
    /Version\/([\d.]+).*Safari/.exec(ua)?.[0] ??
    ua.slice(0, 120);
  const os =
    uaData?.platform ||
    (/Windows/.test(ua) ? "Windows" : /Mac OS X/.test(ua) ? "macOS" : /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Linux/.test(ua) ? "Linux" : "unknown");
  const mobile = uaData?.mobile ?? /Mobi|Android|iPhone/.test(ua);
  const conn = (navigator as unknown as { connection?: { effectiveType?: string } }).connection;
  return {
    device: mobile ? "mobile" : matchMedia("(pointer: coarse)").matches ? "tablet" : "desktop",
    browser,
    os,
    viewport: { width: innerWidth, height: innerHeight },
    screen: { width: screen.width, height: screen.height, dpr: devicePixelRatio },
    language: navigator.language,
    languages: navigator.languages?.slice(0, 5),
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    color_scheme: matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light",
    connection: conn?.effectiveType ?? null,
    user_agent: ua.slice(0, 500),
  };
}

export class Tracker {
  private queue: QueuedEvent[];
  private sessions: PendingSession[];
  private timer: number | null = null;
  private sending: Promise<void> | null = null;
  private failures = 0;
  private sessionId: string | null = null;
  private early: QueuedEvent[] = [];

  constructor(public enabled: boolean) {
    this.queue = storage.getJSON<QueuedEvent[]>(QUEUE_KEY, []);
    this.sessions = storage.getJSON<PendingSession[]>(SESSIONS_KEY, []);
    if (!enabled) this.clear();
    addEventListener("online", () => this.flushSoon(0));
  }

  /** Events are recorded into this session from now on. */
  setSession(sessionId: string | null): void {
    this.sessionId = sessionId;
    if (sessionId && this.early.length) {
      // Events from before the first session was known (page start) belong to it.
      for (const q of this.early.splice(0)) this.queue.push({ ...q, session_id: sessionId });
      this.persist();
      this.flushSoon();
    }
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Records a session start to be (re)sent before its events, if the first try failed. */
  rememberSession(sessionId: string, body: Record<string, unknown>): void {
    if (!this.sessions.some((s) => s.session_id === sessionId)) {
      this.sessions.push({ session_id: sessionId, body });
      storage.setJSON(SESSIONS_KEY, this.sessions);
    }
  }

  sessionConfirmed(sessionId: string): void {
    const before = this.sessions.length;
    this.sessions = this.sessions.filter((s) => s.session_id !== sessionId);
    if (this.sessions.length !== before) storage.setJSON(SESSIONS_KEY, this.sessions);
  }

  track(type: string, data: Record<string, unknown> = {}, sessionId?: string): void {
    const sid = sessionId ?? this.sessionId;
    if (!this.enabled) return;
    const item = {
      session_id: sid ?? "",
      event: { event_id: uuid(), t: Date.now(), type, data: { ...data, path: location.pathname } },
    };
    if (!sid) {
      if (this.early.length < 200) this.early.push(item);
      return;
    }
    this.queue.push(item);
    if (this.queue.length > MAX_QUEUE) this.queue.splice(0, this.queue.length - MAX_QUEUE);
    this.persist();
    this.flushSoon();
  }

  setEnabled(on: boolean): void {
    this.enabled = on;
    if (!on) this.clear();
  }

  private clear(): void {
    this.queue = [];
    this.persist();
  }

  private persist(): void {
    storage.setJSON(QUEUE_KEY, this.queue);
  }

  flushSoon(delay = FLUSH_MS): void {
    if (this.timer !== null) {
      if (delay > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = window.setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, delay);
  }

  /** Sends everything queued; on failure backs off (1 s, 2 s, 4 s ... 60 s) and tries again. */
  flush(): Promise<void> {
    if (!this.enabled || !auth.ready) return Promise.resolve();
    // One send loop at a time; a caller arriving meanwhile waits for it.
    this.sending ??= this.send().finally(() => {
      this.sending = null;
    });
    return this.sending;
  }

  /** Everything queued so far is sent (or the send failed): e.g. before signing out. */
  async drain(): Promise<void> {
    await this.flush();
    if (this.queue.length) await this.flush();
  }

  private async send(): Promise<void> {
    try {
      await this.sendPendingSessions();
      while (this.queue.length) {
        const sid = this.queue[0].session_id;
        const batch = this.queue.filter((q) => q.session_id === sid).slice(0, BATCH);
        const res = await fetch("/api/v1/events", {
          method: "POST",
          headers: headers({ "Content-Type": "application/json" }),
          body: JSON.stringify({ session_id: sid, events: batch.map((b) => b.event) }),
        });
        if (res.ok) {
          const ack = (await res.json()) as EventsAccepted;
          const done = new Set([...ack.accepted, ...ack.duplicates]);
          this.queue = this.queue.filter((q) => !(q.session_id === sid && done.has(q.event.event_id)));
        } else if (res.status === 404) {
          // The session was never created (or deleted): try to start it, else drop its events.
          const pending = this.sessions.find((s) => s.session_id === sid);
          if (pending && (await this.startSession(pending))) continue;
          this.queue = this.queue.filter((q) => q.session_id !== sid);
        } else if (res.status === 422 || res.status === 413 || res.status === 400) {
          // Rejected as invalid: retrying cannot help. Drop that batch, keep the rest.
          const ids = new Set(batch.map((b) => b.event.event_id));
          this.queue = this.queue.filter((q) => !ids.has(q.event.event_id));
          console.warn("tracking: batch rejected", res.status);
        } else {
          // Retried later (errorFrom signs the user out on a 401: sent again once signed in).
          throw await errorFrom(res);
        }
        this.persist();
      }
      this.failures = 0;
    } catch {
      this.failures += 1;
      const delay = Math.min(60_000, 1000 * 2 ** (this.failures - 1)) * (0.8 + Math.random() * 0.4);
      this.flushSoon(delay);
    }
  }

  private async sendPendingSessions(): Promise<void> {
    for (const s of [...this.sessions]) {
      if (!(await this.startSession(s))) throw new Error("session start failed");
    }
  }

  private async startSession(s: PendingSession): Promise<boolean> {
    const res = await fetch("/api/v1/sessions", {
      method: "POST",
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(s.body),
    });
    if (res.status === 401 || res.status === 403) {
      await errorFrom(res); // kept: started once signed in again
      return false;
    }
    if (res.ok || (res.status >= 400 && res.status < 500 && res.status !== 429)) {
      this.sessionConfirmed(s.session_id);
      return res.ok;
    }
    return false;
  }

  /** Page is going away: hand the queue to the browser (it outlives the page). */
  beacon(): void {
    if (!this.enabled || !this.queue.length || !auth.ready) return;
    const bySession = new Map<string, QueuedEvent["event"][]>();
    for (const q of this.queue) {
      const list = bySession.get(q.session_id) ?? [];
      if (list.length < BATCH) list.push(q.event);
      bySession.set(q.session_id, list);
    }
    for (const [sid, events] of bySession) {
      const body = JSON.stringify({ session_id: sid, events });
      if (body.length > 60_000) continue; // over the beacon limit: left for the next visit
      // Every request carries the caller's credentials, which a beacon cannot: a keepalive
      // fetch outlives the page as a beacon does.
      void fetch("/api/v1/events", {
        method: "POST",
        keepalive: true,
        headers: headers({ "Content-Type": "application/json" }),
        body,
      }).catch(() => undefined);
    }
  }
}
