// The user's files: list, upload with progress (XHR: fetch has no upload progress),
// live ingestion status (polled while something is in flight), delete.
import { api, ApiError, headers } from "./api";
import { auth } from "./auth";
import { reactive } from "./store";
import type { FileInfo } from "./types";

export interface Upload {
  key: string;
  name: string;
  loaded: number;
  total: number;
  error?: string;
}

type Raw = Record<string, unknown>;
const num = (v: unknown): number | null => (typeof v === "number" && isFinite(v) ? v : null);

export function normaliseFile(raw: Raw): FileInfo {
  let progress = num(raw.progress);
  if (progress !== null && progress > 1) progress = progress / 100;
  return {
    id: String(raw.id ?? raw.file_id ?? ""),
    name: String(raw.name ?? raw.filename ?? raw.file_name ?? raw.original_name ?? "file"),
    size: num(raw.size ?? raw.size_bytes ?? raw.bytes),
    mime: (raw.media_type ?? raw.mime ?? raw.mime_type ?? raw.content_type ?? null) as string | null,
    stage: (raw.stage ?? null) as string | null,
    status: String(raw.status ?? "queued"),
    progress,
    pages: num(raw.pages ?? raw.page_count),
    chunks: num(raw.chunks ?? raw.chunk_count),
    error: (raw.error ?? null) as string | null,
    created_at: raw.created_at as string | undefined,
  };
}

const inFlight = (f: FileInfo) => f.status === "queued" || f.status === "processing" || f.status === "pending";

class FilesStore {
  files: FileInfo[] = [];
  uploads: Upload[] = [];
  available = true; // false when the server has no files API
  loaded = false;
  private poll: number | null = null;

  constructor() {
    reactive(this, "files", "uploads", "available", "loaded");
  }

  async refresh(): Promise<void> {
    try {
      const body = await api.get<unknown>("/api/v1/files?limit=200");
      const list = Array.isArray(body) ? body : ((body as Raw).items ?? (body as Raw).files ?? (body as Raw).data ?? []);
      this.files = (list as Raw[]).map(normaliseFile);
      this.available = true;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 405)) this.available = false;
    }
    this.loaded = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.poll !== null) return;
    if (!this.files.some(inFlight)) return;
    this.poll = window.setTimeout(() => {
      this.poll = null;
      void this.refresh();
    }, 1000);
  }

  upload(file: File): Promise<FileInfo | null> {
    const up: Upload = { key: `${file.name}-${Date.now()}-${Math.random()}`, name: file.name, loaded: 0, total: file.size };
    this.uploads = [...this.uploads, up];
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/files/upload");
      for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => {
        up.loaded = e.loaded;
        up.total = e.lengthComputable ? e.total : file.size;
        this.uploads = [...this.uploads];
      };
      const finish = (error?: string, info?: FileInfo) => {
        if (error) {
          up.error = error;
          this.uploads = [...this.uploads];
          window.setTimeout(() => this.dismiss(up.key), 8000);
        } else {
          this.uploads = this.uploads.filter((u) => u !== up);
        }
        void this.refresh();
        resolve(info ?? null);
      };
      xhr.onload = () => {
        let body: Raw = {};
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          /* empty */
        }
        if (xhr.status >= 200 && xhr.status < 300) {
          const info = normaliseFile((body.file as Raw) ?? body);
          finish(undefined, info);
        } else {
          const detail = typeof body.detail === "string" ? body.detail : `Upload failed (HTTP ${xhr.status})`;
          if (xhr.status === 401 || xhr.status === 403) auth.rejected(xhr.status, detail);
          finish(detail);
        }
      };
      xhr.onerror = () => finish("The server cannot be reached");
      const form = new FormData();
      form.append("file", file, file.name);
      xhr.send(form);
    });
  }

  dismiss(key: string): void {
    this.uploads = this.uploads.filter((u) => u.key !== key);
  }

  async remove(id: string): Promise<void> {
    await api.del(`/api/v1/files/${encodeURIComponent(id)}`);
    this.files = this.files.filter((f) => f.id !== id);
  }

  get(id: string): FileInfo | undefined {
    return this.files.find((f) => f.id === id);
  }
}

export const filesStore = new FilesStore();
