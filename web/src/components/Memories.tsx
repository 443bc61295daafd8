// The memories page: what the assistant remembers about the user, and memory on/off. A page
// at a time ("Load more"), a search by meaning, add, edit in place, delete after a confirm.
import { useEffect, useMemo, useState } from "preact/hooks";
import { fmtDate } from "../format";
import { MEMORY_MAX_CHARS, MemoriesStore, type Memory, type MemoryKind, type MemorySearchHit } from "../memories";
import type { Tracker } from "../tracking";
import { Icon } from "./Icon";

function ErrorLine({ error, testid = "memory-error" }: { error: string | null; testid?: string }) {
  if (!error) return null;
  return (
    <div class="inline-error small" role="alert" data-testid={testid}>
      {error}
    </div>
  );
}

function MemoryItem({ m, store, tracker }: { m: Memory | MemorySearchHit; store: MemoriesStore; tracker: Tracker }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(m.text);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const act = async (what: () => Promise<unknown>, after?: () => void) => {
    setBusy(true);
    setError(null);
    try {
      await what();
      after?.();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const save = (e: Event) => {
    e.preventDefault();
    const text = draft.trim();
    if (!text || text === m.text) {
      setEditing(false);
      return;
    }
    tracker.track("memory_edit", { memory_id: m.id, chars: text.length });
    void act(() => store.update(m.id, text), () => setEditing(false));
  };
  const remove = () => {
    tracker.track("memory_delete", { memory_id: m.id });
    void act(() => store.remove(m.id));
  };
  const score = "score" in m ? m.score : null;

  return (
    <li class="memory-item" data-testid="memory-item" data-memory-id={m.id}>
      {editing ? (
        <form onSubmit={save} class="memory-edit-form">
          <textarea
            aria-label="Memory text"
            maxLength={MEMORY_MAX_CHARS}
            value={draft}
            onInput={(e) => setDraft((e.target as HTMLTextAreaElement).value)}
            data-testid="memory-edit-text"
            autoFocus
          />
          <div class="edit-actions">
            <button type="submit" class="btn small primary" disabled={busy || !draft.trim()} data-testid="memory-save">
              Save
            </button>
            <button
              type="button"
              class="btn small"
              onClick={() => {
                setEditing(false);
                setError(null);
              }}
            >
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <div class="memory-text" data-testid="memory-text">
          {m.text}
        </div>
      )}
      <div class="memory-info">
        <span class="pill">{m.kind}</span>
        <span title={m.created_at}>Added {fmtDate(m.created_at)}</span>
        {m.updated_at && m.updated_at !== m.created_at && <span title={m.updated_at}>changed {fmtDate(m.updated_at)}</span>}
        {m.history?.length > 0 && <span title={m.history.map((h) => h.text).join("\n")}>{m.history.length} earlier version{m.history.length > 1 ? "s" : ""}</span>}
        {m.source_session_id && <span>from a conversation</span>}
        {score != null && <span data-testid="memory-score">match {score.toFixed(2)}</span>}
        {!editing && (
          <span class="memory-actions">
            {confirming ? (
              <>
                <span>Delete this memory?</span>
                <button class="btn small danger" disabled={busy} onClick={remove} data-testid="memory-delete-confirm">
                  Delete
                </button>
                <button class="btn small" onClick={() => setConfirming(false)} data-testid="memory-delete-cancel">
                  Keep
                </button>
              </>
            ) : (
              <>
                <button
                  class="btn small ghost"
                  onClick={() => {
                    setDraft(m.text);
                    setEditing(true);
                  }}
                  data-testid="memory-edit"
                >
                  <Icon name="pencil" size={14} /> Edit
                </button>
                <button class="btn small ghost" onClick={() => setConfirming(true)} data-testid="memory-delete">
                  <Icon name="trash" size={14} /> Delete
                </button>
              </>
            )}
          </span>
        )}
      </div>
      <ErrorLine error={error} />
    </li>
  );
}

function NewMemory({ store, tracker }: { store: MemoriesStore; tracker: Tracker }) {
  const [text, setText] = useState("");
  const [kind, setKind] = useState<MemoryKind>("fact");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!text.trim()) return;
    setBusy(true);
    setError(null);
    try {
      await store.create(text.trim(), kind);
      tracker.track("memory_add", { kind, chars: text.trim().length });
      setText("");
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <form onSubmit={submit} data-testid="memory-new-form" aria-label="Add a memory">
        <input
          type="text"
          aria-label="New memory"
          placeholder="Something the assistant should remember about you"
          maxLength={MEMORY_MAX_CHARS}
          value={text}
          onInput={(e) => setText((e.target as HTMLInputElement).value)}
          data-testid="memory-new"
        />
        <select aria-label="Kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value as MemoryKind)} data-testid="memory-kind">
          <option value="fact">fact</option>
          <option value="preference">preference</option>
        </select>
        <button type="submit" class="btn primary" disabled={busy || !text.trim()} data-testid="memory-add">
          <Icon name="plus" size={14} /> Add
        </button>
      </form>
      <ErrorLine error={error} testid="memory-new-error" />
    </>
  );
}

export function MemoriesPage({ tracker }: { tracker: Tracker }) {
  const store = useMemo(() => new MemoriesStore(), []);
  const [query, setQuery] = useState("");

  useEffect(() => {
    void store.load();
    void store.loadSettings();
  }, [store]);

  const search = (e: Event) => {
    e.preventDefault();
    tracker.track("memory_search", { chars: query.trim().length });
    void store.search(query);
  };
  const shown: (Memory | MemorySearchHit)[] = store.results ?? store.items;

  return (
    <div class="memories" data-testid="memories-page">
      <div class="memories-head">
        <h1>Memories</h1>
        <span class="spacer" />
        <label class="memory-toggle">
          <input
            type="checkbox"
            role="switch"
            checked={store.enabled ?? false}
            disabled={store.enabled === null}
            aria-checked={store.enabled ?? false}
            onChange={(e) => {
              const on = (e.target as HTMLInputElement).checked;
              tracker.track(on ? "memory_on" : "memory_off", {});
              void store.setEnabled(on);
            }}
            data-testid="memory-enabled"
          />{" "}
          Remember things I tell you
        </label>
      </div>
      <ErrorLine error={store.settingsError} testid="memory-settings-error" />
      <p class="muted small">
        The assistant keeps short notes about you from your conversations and uses them in later answers.
        {store.enabled === false && " Memory is off: nothing new is saved and nothing is used."}
      </p>
      <NewMemory store={store} tracker={tracker} />
      <form onSubmit={search} role="search" data-testid="memory-search-form">
        <input type="search" aria-label="Search memories" placeholder="Search by meaning" value={query} onInput={(e) => setQuery((e.target as HTMLInputElement).value)} data-testid="memory-search" />
        <button type="submit" class="btn" disabled={store.searching} data-testid="memory-search-go">
          <Icon name="search" size={14} /> Search
        </button>
        {store.results && (
          <button
            type="button"
            class="btn ghost"
            onClick={() => {
              setQuery("");
              store.clearSearch();
            }}
            data-testid="memory-search-clear"
          >
            Show all
          </button>
        )}
      </form>
      <ErrorLine error={store.searchError} testid="memory-search-error" />
      {store.error && (
        <div class="inline-error" role="alert" data-testid="memories-error">
          Could not load your memories: {store.error}{" "}
          <button class="btn small" onClick={() => void store.load()}>
            Retry
          </button>
        </div>
      )}
      {store.results && <p class="muted small">{store.results.length ? `Closest ${store.results.length} by meaning` : "No memory matches."}</p>}
      {!store.results && !store.loading && !store.error && !store.items.length && <div class="empty">No memories yet.</div>}
      <ul class="memory-list" data-testid="memory-list">
        {shown.map((m) => (
          <MemoryItem key={m.id} m={m} store={store} tracker={tracker} />
        ))}
      </ul>
      {!store.results && store.nextCursor && (
        <button class="btn" disabled={store.loading} onClick={() => void store.more()} data-testid="memories-more">
          {store.loading ? "Loading…" : "Load more"}
        </button>
      )}
      {store.loading && !store.items.length && <div class="empty">Loading…</div>}
    </div>
  );
}
