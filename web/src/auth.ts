// Who the browser is to the server. AUTH_MODE=open: an anonymous id sent as X-User-ID.
// AUTH_MODE=api_key: an API key the user signs in with (checked with GET /api/v1/auth/me,
// kept in localStorage) sent as `Authorization: Bearer <key>` on every request; a 401 signs
// the user out with the reason, a 403 is shown as a notice.
import { readConfig, storage, userId } from "./config";

const KEY = "llmp.api_key";
const USER = "llmp.api_user";
// What belongs to the signed-in user: dropped when another user signs in.
const USER_SCOPED = ["llmp.current_session", "llmp.events.queue", "llmp.events.sessions"];

export interface Me {
  auth_mode: string;
  user_id: string | null;
  is_admin: boolean;
  authenticated: boolean;
}

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
  user: string | null;
  /** Why the user was signed out (a rejected key), shown on the sign-in form. */
  reason: string | null = null;
  /** The last "not allowed" answer (403), shown until dismissed. */
  forbidden: string | null = null;
  private listeners = new Set<() => void>();

  constructor() {
    this.mode = readConfig().auth_mode === "api_key" ? "api_key" : "open";
    this.key = this.mode === "api_key" ? storage.get(KEY) : null;
    this.user = this.mode === "api_key" ? storage.get(USER) : null;
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    this.listeners.forEach((l) => l());
  }

  get apiKeyMode(): boolean {
    return this.mode === "api_key";
  }

  /** Requests can be made (open mode, or signed in with a key). */
  get ready(): boolean {
    return this.mode === "open" || this.key !== null;
  }

  headers(): Record<string, string> {
    if (this.mode === "open") return { "X-User-ID": userId() };
    return this.key ? { Authorization: `Bearer ${this.key}` } : {};
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
    this.key = key;
    this.user = me.user_id;
    this.reason = null;
    this.forbidden = null;
    this.emit();
    return me;
  }

  /** Forget the key (the caller reloads the page: the stores hold the user's data). */
  signOut(): void {
    storage.remove(KEY);
    USER_SCOPED.forEach((k) => storage.remove(k));
    this.key = null;
    this.emit();
  }

  /** Every 401/403 answer passes here. */
  rejected(status: number, detail: string): void {
    if (status === 401 && this.mode === "api_key" && this.key) {
      storage.remove(KEY);
      this.key = null;
      this.reason = `You were signed out: ${detail}`;
      this.emit();
    } else if (status === 403) {
      this.forbidden = detail;
      this.emit();
    }
  }

  dismissForbidden(): void {
    this.forbidden = null;
    this.emit();
  }
}

export const auth = new AuthStore();

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
