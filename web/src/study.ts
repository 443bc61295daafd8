// A study as its participant and its researcher see it (contract: notes/study-api.md).
// The participant's token for a study is kept per study (a reload or a second tab resumes the
// same participant); a preview token opened from the researcher page is kept for its tab only.
import { auth } from "./auth";
import { storage } from "./config";

export type ItemKind = "likert" | "single" | "multiple" | "text" | "number";
export type Answer = string | number | string[];

export interface Item {
  id: string;
  kind: ItemKind;
  prompt: string;
  required?: boolean;
  options?: string[] | null;
  scale?: { min: number; max: number; min_label?: string | null; max_label?: string | null } | null;
  min?: number | null;
  max?: number | null;
  max_length?: number | null;
}

export interface StudyProgress {
  turns: number;
  min_turns: number;
  minutes: number;
  min_minutes: number;
  met: boolean;
}

export type ParticipantStatus = "entered" | "consented" | "declined" | "pre_done" | "task" | "post_done" | "completed" | "withdrawn";

export interface ParticipantState {
  study_id: string;
  study_name: string;
  version: number;
  status: ParticipantStatus;
  arm_label: string;
  session_id: string | null;
  consent_markdown: string;
  instructions_markdown: string;
  pre_questionnaire: Item[];
  post_questionnaire: Item[];
  progress: StudyProgress;
  completion_code: string | null;
  redirect_url: string | null;
  is_preview: boolean;
}

export interface EnterOut {
  token: string;
  participant: ParticipantState;
}

export interface ArmDefinition {
  name: string;
  provider?: string | null;
  model?: string | null;
  system_prompt?: string | null;
  temperature?: number | null;
}

export interface StudyDefinition {
  id: string;
  name: string;
  arms: ArmDefinition[];
  completion?: { min_turns?: number; min_minutes?: number; code?: string; redirect_url?: string | null };
  target_per_arm?: number | null;
  pre_questionnaire?: Item[];
  post_questionnaire?: Item[];
  [key: string]: unknown;
}

export interface StudyOut {
  id: string;
  name: string;
  state: "draft" | "open" | "closed";
  version: number;
  definition: StudyDefinition;
  created_at: string;
  participant_link: string;
}

export interface ArmProgress {
  arm: string;
  started: number;
  consented: number;
  completed: number;
  dropped: number;
  declined: number;
  withdrawn: number;
  median_minutes_on_task: number | null;
  turns: number;
  attention_failures: number;
  active?: number;
}

export interface StudyProgressOut {
  arms: ArmProgress[];
  totals?: ArmProgress;
  updated_at?: string;
  [key: string]: unknown;
}

export interface ParticipantRow {
  pseudonym: string;
  arm: string;
  status: string;
  version: number;
  is_pilot: boolean;
  entered_at: string;
  consented_at: string | null;
  task_started_at: string | null;
  completed_at: string | null;
  last_seen_at: string;
  turns: number;
}

/** An answer of the study API: status, error type, message and, for 422, the per-item errors. */
export class StudyError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly type: string,
    readonly itemErrors: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Per-item messages out of a 422 body, whichever shape the server uses. */
export function itemErrorsFrom(body: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!body || typeof body !== "object") return out;
  const b = body as Record<string, unknown>;
  for (const key of ["errors", "items", "item_errors"]) {
    const v = b[key];
    if (v && typeof v === "object" && !Array.isArray(v)) {
      for (const [k, msg] of Object.entries(v as Record<string, unknown>)) out[k] = String(msg);
    } else if (Array.isArray(v)) {
      for (const e of v as Record<string, unknown>[]) {
        const id = e.item ?? e.id ?? e.item_id ?? (Array.isArray(e.loc) ? e.loc[e.loc.length - 1] : undefined);
        if (id !== undefined) out[String(id)] = String(e.message ?? e.msg ?? e.detail ?? "Invalid answer");
      }
    }
  }
  if (Array.isArray(b.detail)) {
    for (const e of b.detail as Record<string, unknown>[]) {
      const loc = Array.isArray(e.loc) ? e.loc : [];
      const i = loc.indexOf("answers");
      if (i >= 0 && loc[i + 1] !== undefined) out[String(loc[i + 1])] = String(e.msg ?? "Invalid answer");
    }
  }
  return out;
}

async function call<T>(method: string, path: string, token: string | null, body?: unknown, extra: Record<string, string> = {}): Promise<T> {
  const headers: Record<string, string> = { ...extra };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined && !headers["Content-Type"]) headers["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });
  } catch {
    throw new StudyError("The server cannot be reached. Check your connection and try again.", 0, "network_error");
  }
  if (res.ok) return (res.status === 204 ? undefined : await res.json()) as T;
  let detail = `${res.status} ${res.statusText}`;
  let type = "http_error";
  let itemErrors: Record<string, string> = {};
  try {
    const b = await res.json();
    if (typeof b.detail === "string") detail = b.detail;
    else if (Array.isArray(b.detail)) detail = b.detail.map((d: { msg?: string }) => d.msg).join("; ");
    if (typeof b.type === "string") type = b.type;
    itemErrors = itemErrorsFrom(b);
  } catch {
    /* not JSON */
  }
  // A researcher's key refused: the app's usual handling (signed out, or a notice).
  if (token === null && (res.status === 401 || res.status === 403)) auth.rejected(res.status, detail);
  throw new StudyError(detail, res.status, type, itemErrors);
}

const enc = encodeURIComponent;
const tokenKey = (study: string) => `llmp.study.${study}.token`;
const previewKey = (study: string) => `llmp.study.${study}.preview`;
const finishedKey = (study: string) => `llmp.study.${study}.finished`;
const withdrawnKey = (study: string) => `llmp.study.${study}.withdrawn`;

function session(key: string): string | null {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

/** The study in the path `/s/{study}`, or null. */
export function studyFromPath(path: string): string | null {
  const m = /^\/s\/([^/?#]+)\/?$/.exec(path);
  return m ? decodeURIComponent(m[1]) : null;
}

/** The participant side of one study: its token and the calls the flow makes. */
export class StudyClient {
  token: string | null;
  readonly preview: boolean;

  constructor(readonly studyId: string) {
    // A preview token arrives in the fragment (`#token=...`, never sent to servers): kept for
    // this tab, out of the address bar.
    const m = /(?:^#|&)(?:preview_)?token=([^&]+)/.exec(location.hash);
    if (m) {
      try {
        sessionStorage.setItem(previewKey(studyId), decodeURIComponent(m[1]));
      } catch {
        /* the token is used for this page only */
      }
      history.replaceState(null, "", location.pathname + location.search);
    }
    const preview = m ? decodeURIComponent(m[1]) : session(previewKey(studyId));
    this.preview = preview !== null;
    this.token = preview ?? storage.get(tokenKey(studyId));
    auth.useStudyToken(this.token);
  }

  private base(): string {
    return `/api/v1/studies/${enc(this.studyId)}`;
  }

  private keep(token: string): void {
    this.token = token;
    if (this.preview) {
      try {
        sessionStorage.setItem(previewKey(this.studyId), token);
      } catch {
        /* kept in memory */
      }
    } else storage.set(tokenKey(this.studyId), token);
    auth.useStudyToken(token);
  }

  /** Forget the stored token (the participant starts again from the link) and any drafts. */
  forget(): void {
    storage.remove(tokenKey(this.studyId));
    this.dropDrafts();
    try {
      sessionStorage.removeItem(previewKey(this.studyId));
    } catch {
      /* ignore */
    }
    this.token = null;
    auth.useStudyToken(null);
  }

  /** Every URL parameter goes to the server, which picks the recruitment ones. */
  async enter(params: Record<string, string>): Promise<ParticipantState> {
    const out = await call<EnterOut>("POST", `${this.base()}/enter`, this.token, { params });
    this.keep(out.token);
    return out.participant;
  }

  me(): Promise<ParticipantState> {
    return call<ParticipantState>("GET", `${this.base()}/me`, this.token);
  }

  consent(agree: boolean): Promise<ParticipantState> {
    return call<ParticipantState>("POST", `${this.base()}/consent`, this.token, { agree });
  }

  answers(phase: "pre" | "post", answers: Record<string, Answer>): Promise<ParticipantState> {
    return call<ParticipantState>("POST", `${this.base()}/answers`, this.token, { phase, answers });
  }

  complete(): Promise<ParticipantState> {
    return call<ParticipantState>("POST", `${this.base()}/complete`, this.token, {});
  }

  withdraw(): Promise<ParticipantState> {
    return call<ParticipantState>("POST", `${this.base()}/withdraw`, this.token, {});
  }

  /** Questionnaire answers typed but not sent (kept across a reload until then). */
  dropDrafts(): void {
    for (const phase of ["pre", "post"]) storage.remove(`llmp.study.${this.studyId}.${phase}.draft`);
  }

  /** This browser withdrew from the study (its data is gone): the page says so on a reload. */
  get withdrawn(): boolean {
    return !this.preview && storage.get(withdrawnKey(this.studyId)) === "1";
  }

  set withdrawn(on: boolean) {
    if (on) storage.set(withdrawnKey(this.studyId), "1");
    else storage.remove(withdrawnKey(this.studyId));
  }

  /** The participant pressed "Finish": remembered so a reload lands on the post-questionnaire. */
  get finished(): boolean {
    return storage.get(finishedKey(this.studyId)) === "1";
  }

  set finished(on: boolean) {
    if (on) storage.set(finishedKey(this.studyId), "1");
    else storage.remove(finishedKey(this.studyId));
  }
}

/** Inside a survey's iframe: tell the parent page (the allowed origin framing us, else any). */
export function framed(): boolean {
  try {
    return window.parent !== window;
  } catch {
    return true;
  }
}

export function notifyParent(message: { type: string; study: string; [key: string]: unknown }): void {
  if (!framed()) return;
  // The CSP's frame-ancestors lets only the study's allowed origins frame this page: the
  // ancestor's origin (where the browser tells it) is one of them.
  const ancestors = (location as unknown as { ancestorOrigins?: DOMStringList }).ancestorOrigins;
  const target = ancestors && ancestors.length ? ancestors[0] : "*";
  try {
    window.parent.postMessage(message, target === "null" ? "*" : target);
  } catch {
    /* a parent that went away */
  }
}

/** Researcher calls (the signed-in key, through auth). */
export const researcher = {
  list: () => call<StudyOut[]>("GET", "/api/v1/studies", null, undefined, auth.headers()),
  get: (id: string) => call<StudyOut>("GET", `/api/v1/studies/${enc(id)}`, null, undefined, auth.headers()),
  importText: (text: string) =>
    call<StudyOut>("POST", "/api/v1/studies/import", null, text, {
      ...auth.headers(),
      "Content-Type": /^\s*[{[]/.test(text) ? "application/json" : "application/yaml",
    }),
  update: (id: string, definition: unknown) => call<StudyOut>("PUT", `/api/v1/studies/${enc(id)}`, null, definition, auth.headers()),
  setState: (id: string, action: "open" | "close") => call<StudyOut>("POST", `/api/v1/studies/${enc(id)}/${action}`, null, {}, auth.headers()),
  progress: (id: string, pilot = false) => call<StudyProgressOut>("GET", `/api/v1/studies/${enc(id)}/progress${pilot ? "?include_pilot=true" : ""}`, null, undefined, auth.headers()),
  participants: (id: string) => call<ParticipantRow[]>("GET", `/api/v1/studies/${enc(id)}/participants?limit=500`, null, undefined, auth.headers()),
  preview: (id: string, arm: string) => call<{ token: string; url: string }>("POST", `/api/v1/studies/${enc(id)}/preview?arm=${enc(arm)}`, null, {}, auth.headers()),
};

export const EXPORT_TABLES = ["participants", "messages", "events", "answers"] as const;
export const EXPORT_FORMATS = ["csv", "jsonl", "parquet"] as const;
