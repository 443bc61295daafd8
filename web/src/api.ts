// JSON over fetch with the caller's credentials; errors become ApiError ({detail, type, request_id}).
import { auth } from "./auth";

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly type: string = "error",
    readonly requestId: string | null = null,
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
  /** Worth trying again (server busy or unreachable), as opposed to a bad request. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export function headers(extra: Record<string, string> = {}): Record<string, string> {
  return { ...auth.headers(), ...extra };
}

export async function errorFrom(res: Response): Promise<ApiError> {
  let detail = `${res.status} ${res.statusText}`;
  let type = "http_error";
  let requestId = res.headers.get("X-Request-ID");
  try {
    const body = await res.json();
    if (typeof body.detail === "string") detail = body.detail;
    else if (Array.isArray(body.detail)) detail = body.detail.map((d: { msg?: string }) => d.msg).join("; ");
    type = body.type || type;
    requestId = body.request_id || requestId;
  } catch {
    /* not JSON */
  }
  if (res.status === 401 || res.status === 403) auth.rejected(res.status, detail);
  const ra = res.headers.get("Retry-After");
  return new ApiError(detail, res.status, type, requestId, ra ? Number(ra) : null);
}

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  init: RequestInit = {},
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      ...init,
      headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError("The server cannot be reached", 0, "network_error");
  }
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const api = {
  get: <T>(path: string, init?: RequestInit) => request<T>("GET", path, undefined, init),
  post: <T>(path: string, body?: unknown) => request<T>("POST", path, body ?? {}),
  patch: <T>(path: string, body: unknown) => request<T>("PATCH", path, body),
  put: <T>(path: string, body: unknown) => request<T>("PUT", path, body),
  del: (path: string) => request<void>("DELETE", path),
};

export function qs(params: Record<string, string | number | null | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}
