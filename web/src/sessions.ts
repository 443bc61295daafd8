// The user's conversations (study sessions): list, create, rename, delete, current one.
import { api, ApiError, qs } from "./api";
import { auth } from "./auth";
import { storage, uuid } from "./config";
import { reactive } from "./store";
import type { Tracker } from "./tracking";
import { environment } from "./tracking";
import type { Page, SessionOut } from "./types";

const CURRENT_KEY = "llmp.current_session";

export class SessionsStore {
  sessions: SessionOut[] = [];
  current: string | null = null;
  error: string | null = null;

  constructor(
    private readonly tracker: Tracker,
    readonly experimentId: string | null,
  ) {
    reactive(this, "sessions", "current", "error");
  }

  get currentSession(): SessionOut | undefined {
    return this.sessions.find((s) => s.session_id === this.current);
  }

  /** Reloads the list; false when the server could not be asked (the list is unchanged). */
  async refresh(): Promise<boolean> {
    let ok = true;
    try {
      const page = await api.get<Page<SessionOut>>(`/api/v1/sessions${qs({ limit: 200 })}`);
      // Keep a just-created session that the list does not show yet.
      const local = this.sessions.filter((s) => !page.items.some((p) => p.session_id === s.session_id) && s.session_id === this.current);
      this.sessions = [...local, ...page.items];
      this.error = null;
    } catch (err) {
      this.error = (err as Error).message;
      ok = false;
    }
    return ok;
  }

  /** Resume the conversation in the URL or the last one used, else start one. */
  async init(fromUrl: string | null): Promise<void> {
    const listed = await this.refresh();
    const wanted = fromUrl ?? storage.get(CURRENT_KEY);
    const known = wanted ? this.sessions.find((s) => s.session_id === wanted) : undefined;
    if (known && (!this.experimentId || known.experiment_id === this.experimentId)) {
      this.select(known.session_id, "resume");
    } else if (!listed && wanted && !this.experimentId) {
      // The list could not be read (server unreachable, page leaving): keep the last
      // conversation rather than starting another one.
      this.select(wanted, "resume");
    } else {
      const reusable = this.sessions.find((s) => !s.title && (s.experiment_id ?? null) === this.experimentId);
      if (reusable) this.select(reusable.session_id, "resume");
      else await this.create("page_load");
    }
    this.tracker.track("page_load", { environment: environment(), experiment_id: this.experimentId, referrer: document.referrer ? new URL(document.referrer).origin : null });
  }

  select(sessionId: string, how: string = "switch"): void {
    const previous = this.current;
    this.current = sessionId;
    storage.set(CURRENT_KEY, sessionId);
    this.tracker.setSession(sessionId);
    if (previous !== sessionId) this.tracker.track("conversation_open", { how, previous_session_id: previous });
  }

  /** A new conversation: a session started with the browser's environment. */
  async create(how: string = "new"): Promise<string> {
    // A participant's session ids live in their own namespace (`<user id>:...`, the server's rule).
    const sessionId = auth.user ? `${auth.user}:${uuid()}` : uuid();
    const body: Record<string, unknown> = {
      session_id: sessionId,
      environment: this.tracker.enabled ? environment() : {},
    };
    if (this.experimentId) body.experiment_id = this.experimentId;
    const optimistic: SessionOut = {
      session_id: sessionId,
      user_id: "",
      experiment_id: this.experimentId,
      variant: null,
      environment: {},
      title: null,
      started_at: new Date().toISOString(),
      ended_at: null,
    };
    this.sessions = [optimistic, ...this.sessions];
    this.tracker.rememberSession(sessionId, body);
    this.select(sessionId, how);
    try {
      const created = await api.post<SessionOut>("/api/v1/sessions", body);
      this.tracker.sessionConfirmed(sessionId);
      this.sessions = this.sessions.map((s) => (s.session_id === sessionId ? created : s));
      this.tracker.track("session_start", { environment: body.environment, experiment_id: this.experimentId, variant: created.variant, how });
    } catch (err) {
      // Offline: the tracker starts it when the server is back.
      this.error = err instanceof ApiError ? err.message : String(err);
    }
    return sessionId;
  }

  async rename(sessionId: string, title: string): Promise<void> {
    const updated = await api.patch<SessionOut>(`/api/v1/sessions/${encodeURIComponent(sessionId)}`, { title });
    this.sessions = this.sessions.map((s) => (s.session_id === sessionId ? updated : s));
  }

  /** Set locally at once (first query names the chat); saved in the background. */
  titleFromQuery(sessionId: string, query: string): void {
    const s = this.sessions.find((x) => x.session_id === sessionId);
    if (!s || s.title) return;
    const title = query.replace(/\s+/g, " ").trim().slice(0, 60) || "Untitled";
    s.title = title;
    this.sessions = [...this.sessions];
    void this.rename(sessionId, title).catch(() => undefined);
  }

  async remove(sessionId: string): Promise<void> {
    await api.del(`/api/v1/sessions/${encodeURIComponent(sessionId)}`);
    this.sessions = this.sessions.filter((s) => s.session_id !== sessionId);
    if (this.current === sessionId) {
      const next = this.sessions.find((s) => (s.experiment_id ?? null) === this.experimentId);
      if (next) this.select(next.session_id, "after_delete");
      else await this.create("after_delete");
    }
  }
}
