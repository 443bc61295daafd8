// The user's memories (what the assistant remembers about them): a page at a time, search by
// meaning, add, edit, delete, and memory on/off. The API's shapes are typed here by hand (the
// issue 13 contract) until they are in openapi.json.
import { api, ApiError, qs } from "./api";
import { reactive } from "./store";

export type MemoryKind = "fact" | "preference";

export interface MemoryHistoryEntry {
  text: string;
  changed_at: string;
  reason?: string | null;
}

export interface Memory {
  id: string;
  text: string;
  kind: MemoryKind | string;
  source_session_id: string | null;
  source_query_id: string | null;
  source_time: string | null;
  history: MemoryHistoryEntry[];
  created_at: string;
  updated_at: string;
}

export interface MemoryPage {
  items: Memory[];
  next_cursor: string | null;
}

export type MemorySearchHit = Memory & { score: number };

export interface MemorySearchResults {
  items: MemorySearchHit[];
}

export interface MemorySettings {
  enabled: boolean;
}

export const MEMORY_MAX_CHARS = 1000;
const PAGE = 50;
const BASE = "/api/v1/memories";
const one = (id: string) => `${BASE}/${encodeURIComponent(id)}`;

export class MemoriesStore {
  items: Memory[] = [];
  nextCursor: string | null = null;
  loading = false;
  /** Reading the list failed (shown with Retry). */
  error: string | null = null;
  /** Memory on/off; null until known. */
  enabled: boolean | null = null;
  settingsError: string | null = null;
  /** Results of a search by meaning; null when not searching. */
  results: MemorySearchHit[] | null = null;
  searching = false;
  searchError: string | null = null;

  constructor() {
    reactive(this, "items", "nextCursor", "loading", "error", "enabled", "settingsError", "results", "searching", "searchError");
  }

  /** The first page (again). */
  async load(): Promise<void> {
    await this.page(null);
  }

  async more(): Promise<void> {
    if (this.nextCursor && !this.loading) await this.page(this.nextCursor);
  }

  private async page(cursor: string | null): Promise<void> {
    this.loading = true;
    try {
      const page = await api.get<MemoryPage>(`${BASE}${qs({ cursor, limit: PAGE })}`);
      const known = cursor ? this.items : [];
      const ids = new Set(known.map((m) => m.id));
      this.items = [...known, ...page.items.filter((m) => !ids.has(m.id))];
      this.nextCursor = page.next_cursor ?? null;
      this.error = null;
    } catch (err) {
      this.error = (err as Error).message;
    } finally {
      this.loading = false;
    }
  }

  async loadSettings(): Promise<void> {
    try {
      this.enabled = (await api.get<MemorySettings>(`${BASE}/settings`)).enabled;
      this.settingsError = null;
    } catch (err) {
      this.settingsError = (err as Error).message;
    }
  }

  async setEnabled(enabled: boolean): Promise<void> {
    try {
      this.enabled = (await api.put<MemorySettings>(`${BASE}/settings`, { enabled } satisfies MemorySettings)).enabled;
      this.settingsError = null;
    } catch (err) {
      this.settingsError = (err as Error).message;
    }
  }

  async search(query: string): Promise<void> {
    if (!query.trim()) {
      this.clearSearch();
      return;
    }
    this.searching = true;
    try {
      this.results = (await api.post<MemorySearchResults>(`${BASE}/search`, { query, limit: PAGE })).items;
      this.searchError = null;
    } catch (err) {
      this.searchError = (err as Error).message;
    } finally {
      this.searching = false;
    }
  }

  clearSearch(): void {
    this.results = null;
    this.searchError = null;
  }

  /** Throws the server's error (the form shows it). */
  async create(text: string, kind: MemoryKind): Promise<Memory> {
    const created = await api.post<Memory>(BASE, { text, kind });
    this.items = [created, ...this.items.filter((m) => m.id !== created.id)];
    return created;
  }

  /** Throws the server's error (the item shows it). */
  async update(id: string, text: string): Promise<Memory> {
    const updated = await api.patch<Memory>(one(id), { text });
    const swap = <T extends Memory>(m: T): T => (m.id === id ? { ...m, ...updated } : m);
    this.items = this.items.map(swap);
    if (this.results) this.results = this.results.map(swap);
    return updated;
  }

  /** Throws the server's error (the item shows it). */
  async remove(id: string): Promise<void> {
    try {
      await api.del(one(id));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err; // already gone
    }
    this.items = this.items.filter((m) => m.id !== id);
    if (this.results) this.results = this.results.filter((m) => m.id !== id);
  }
}
