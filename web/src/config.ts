// Server-provided settings (a meta tag: no inline script under the CSP) and URL switches.

export interface PageConfig {
  app_name: string;
  version: string;
  tracking: boolean;
  auth_mode: string;
}

export function readConfig(): PageConfig {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="llm-platform-config"]');
  const fallback: PageConfig = { app_name: "LLM Platform", version: "", tracking: true, auth_mode: "open" };
  if (!meta) return fallback;
  try {
    return { ...fallback, ...JSON.parse(meta.content) };
  } catch {
    return fallback;
  }
}

export const storage = {
  get(key: string): string | null {
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key: string, value: string): void {
    try {
      localStorage.setItem(key, value);
    } catch {
      /* storage full or disabled: the app still works, without persistence */
    }
  },
  remove(key: string): void {
    try {
      localStorage.removeItem(key);
    } catch {
      /* ignore */
    }
  },
  getJSON<T>(key: string, fallback: T): T {
    const raw = storage.get(key);
    if (raw === null) return fallback;
    try {
      return JSON.parse(raw) as T;
    } catch {
      return fallback;
    }
  },
  setJSON(key: string, value: unknown): void {
    storage.set(key, JSON.stringify(value));
  },
};

export function uuid(): string {
  // randomUUID exists only in secure contexts (https or localhost).
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b: Uint8Array = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** `?experiment=ID` joins a study (remembered); `?experiment=` leaves it. */
export function experimentFromUrl(): string | null {
  const params = new URLSearchParams(location.search);
  if (params.has("experiment")) {
    const id = (params.get("experiment") || "").trim();
    if (id && /^[A-Za-z0-9._:@-]{1,128}$/.test(id)) storage.set("llmp.experiment", id);
    else storage.remove("llmp.experiment");
  }
  return storage.get("llmp.experiment");
}

/** `?tracking=off|on` is remembered; the server setting wins when it disables tracking. */
export function trackingWanted(config: PageConfig): boolean {
  const params = new URLSearchParams(location.search);
  const p = params.get("tracking");
  if (p === "off" || p === "0" || p === "false") storage.set("llmp.tracking", "off");
  if (p === "on" || p === "1" || p === "true") storage.remove("llmp.tracking");
  return config.tracking && storage.get("llmp.tracking") !== "off";
}
