// Who the browser is to the server. Every request carries `Authorization: Bearer <secret>`:
// - a participant token (AUTH_MODE=open): minted by POST /api/v1/auth/participant on first
//   contact and kept in localStorage, so the same person keeps their conversations;
// - an API key (researchers, admins; everyone in AUTH_MODE=api_key): typed into the sign-in
//   form or opened from the sign-in link the server prints (`/#key=...`), checked with
//   GET /api/v1/auth/me and kept in localStorage until "Sign out".
// A 401 drops the rejected secret (with the reason shown), a 403 is shown as a notice.
import { readConfig, storage } from "./config";
import { reactive } from "./store";
import type { Me, ParticipantIssued } from "./types";

const KEY = "llmp.api_key";
const USER = "llmp.api_user";
const STAFF = "llmp.api_staff";
const TOKEN = "llmp.participant_token";
const TOKEN_USER = "llmp.participant_user";
// What belongs to the signed-in user: dropped when another user signs in.
const USER_SCOPED = ["llmp.current_session", "llmp.events.queue", "llmp.events.sessions"];

export class AuthError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function detailOf(res: Response): Promise<string> {
  try {
    const body = await res.json();
    if (typeof body.detail === "string") return body.detail;
  } catch {
    /* not JSON */
  }
  return `${res.status} ${res.statusText}`;
}

class AuthStore {
  readonly mode: "open" | "api_key";
  key: string | null;
  /** The user id of the key, or of the participant token. */
  user: string | null;
  /** The key is a researcher's or an admin's (dashboard, experiments). */
  staff: boolean;
  token: string | null;
  /** Why the user was signed out (a rejected key), shown on the sign-in form. */
  reason: string | null = null;
  /** The last "not allowed" answer (403), shown until dismissed. */
  forbidden: string | null = null;
  /** Minting a participant token failed (server unreachable, rate limited...). */
  joinError: string | null = null;
  private joining: Promise<void> | null = null;
  /** A study participant's token (the /s/{study} page): used instead of any key or token. */
  studyToken: string | null = null;
  /** The server refused the study token (tampered, or its study's data is gone). */
  studyRejected: string | null = null;

  constructor() {
    this.mode = readConfig().auth_mode === "api_key" ? "api_key" : "open";
    this.key = storage.get(KEY);
    this.staff = storage.get(STAFF) === "1";
    this.token = this.mode === "open" ? storage.get(TOKEN) : null;
    this.user = this.key ? storage.get(USER) : storage.get(TOKEN_USER);
    reactive(
      this,
      "key",
      "user",
      "staff",
      "token",
      "reason",
      "forbidden",
      "joinError",
      "studyToken",
      "studyRejected",
    );
  }

  get apiKeyMode(): boolean {
    return this.mode === "api_key";
  }

  /** Signed in with an API key (shows the account and "Sign out"). */
  get signedIn(): boolean {
    return this.key !== null;
  }

  /** Requests can be made: a key, or a participant token (open mode). */
  get ready(): boolean {
    return this.studyToken !== null || this.key !== null || this.token !== null;
  }

  /** The study page speaks as the study's participant only (not stored here: see study.ts). */
  useStudyToken(token: string | null): void {
    this.studyToken = token;
    this.studyRejected = null;
  }

  headers(): Record<string, string> {
    const secret = this.studyToken ?? this.key ?? this.token;
    return secret ? { Authorization: `Bearer ${secret}` } : {};
  }

  /** Open mode: become a participant (once per browser). */
  join(): Promise<void> {
    if (this.mode !== "open" || this.ready) return Promise.resolve();
    this.joining ??= (async () => {
      try {
        const res = await fetch("/api/v1/auth/participant", { method: "POST" });
        if (!res.ok) throw new AuthError(await detailOf(res), res.status);
        const body = (await res.json()) as ParticipantIssued;
        if (body.user_id !== storage.get(TOKEN_USER)) USER_SCOPED.forEach((k) => storage.remove(k));
        storage.set(TOKEN, body.token);
        storage.set(TOKEN_USER, body.user_id);
        this.token = body.token;
        this.user = body.user_id;
        this.joinError = null;
      } catch (err) {
        this.joinError = err instanceof AuthError ? err.message : "The server cannot be reached";
      } finally {
        this.joining = null;
      }
    })();
    return this.joining;
  }

  /** Checks the key with the server; stores it when accepted, else throws AuthError. */
  async signIn(raw: string): Promise<Me> {
    const key = raw.trim().replace(/^Bearer\s+/i, "");
    if (!key) throw new AuthError("Enter your API key", 0);
    let res: Response;
    try {
      res = await fetch("/api/v1/auth/me", { headers: { Authorization: `Bearer ${key}` } });
    } catch {
      throw new AuthError("The server cannot be reached", 0);
    }
    if (!res.ok) {
      const detail = await detailOf(res);
      throw new AuthError(res.status === 401 ? `This API key was not accepted: ${detail}` : detail, res.status);
    }
    const me = (await res.json()) as Me;
    if (me.user_id !== this.user) USER_SCOPED.forEach((k) => storage.remove(k));
    storage.set(KEY, key);
    if (me.user_id) storage.set(USER, me.user_id);
    storage.set(STAFF, me.is_staff ? "1" : "0");
    this.key = key;
    this.user = me.user_id;
    this.staff = me.is_staff;
    this.reason = null;
    this.forbidden = null;
    return me;
  }

  /** Forget the key (the caller reloads the page: the stores hold the user's data). In open
   * mode the browser is its participant again. */
  signOut(): void {
    storage.remove(KEY);
    storage.remove(STAFF);
    USER_SCOPED.forEach((k) => storage.remove(k));
    this.key = null;
    this.staff = false;
    this.user = storage.get(TOKEN_USER);
  }

  /** Every 401/403 answer passes here. */
  rejected(status: number, detail: string): void {
    if (this.studyToken) {
      if (status === 401) {
        this.studyRejected = detail;
      }
      return;
    }
    if (status === 401 && this.key) {
      storage.remove(KEY);
      storage.remove(STAFF);
      this.key = null;
      this.staff = false;
      this.user = storage.get(TOKEN_USER);
      this.reason = `You were signed out: ${detail}`;
    } else if (status === 401 && this.token) {
      // A token this server no longer accepts (its secret changed): become a new participant.
      storage.remove(TOKEN);
      storage.remove(TOKEN_USER);
      this.token = null;
      this.user = null;
      void this.join();
    } else if (status === 403) {
      this.forbidden = detail;
    }
  }

  dismissForbidden(): void {
    this.forbidden = null;
  }
}

export const auth = new AuthStore();

/** The sign-in link the server prints (`/#key=lp_...`): sign in, then drop the key from the URL. */
export async function signInFromLink(): Promise<void> {
  const match = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (!match) return;
  history.replaceState(null, "", location.pathname + location.search);
  try {
    await auth.signIn(decodeURIComponent(match[1]));
  } catch (err) {
    auth.reason = err instanceof AuthError ? err.message : String(err);
  }
}

/** Fetch an API resource with the caller's credentials (for files and exports opened from links). */
export async function fetchBlob(path: string): Promise<{ blob: Blob; filename: string | null }> {
  let res: Response;
  try {
    res = await fetch(path, { headers: auth.headers() });
  } catch {
    throw new AuthError("The server cannot be reached", 0);
  }
  if (!res.ok) {
    const detail = await detailOf(res);
    if (res.status === 401 || res.status === 403) auth.rejected(res.status, detail);
    throw new AuthError(detail, res.status);
  }
  const disposition = res.headers.get("Content-Disposition") ?? "";
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  const plain = /filename="([^"]+)"/i.exec(disposition);
  const filename = star ? decodeURIComponent(star[1]) : plain ? plain[1] : null;
  return { blob: await res.blob(), filename };
}

/** Save an API resource as a file (an `<a download>` cannot send the Authorization header). */
export async function downloadWithAuth(path: string, fallbackName: string): Promise<void> {
  const { blob, filename } = await fetchBlob(path);
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename ?? fallbackName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
