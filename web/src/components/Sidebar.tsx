import { useState } from "preact/hooks";
import { fmtDate } from "../format";
import type { SessionsStore } from "../sessions";
import { Icon } from "./Icon";

export function Sidebar({ store, onClose }: { store: SessionsStore; onClose: () => void }) {
  const [editing, setEditing] = useState<string | null>(null);
  const [draft, setDraft] = useState("");
  const [confirming, setConfirming] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const visible = store.sessions.filter((s) => (s.experiment_id ?? null) === store.experimentId);

  const saveRename = async (id: string) => {
    setEditing(null);
    const title = draft.trim();
    if (!title) return;
    try {
      await store.rename(id, title);
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const remove = async (id: string) => {
    setConfirming(null);
    try {
      await store.remove(id);
    } catch (err) {
      setError((err as Error).message);
    }
  };

  return (
    <aside class="sidebar" aria-label="Conversations">
      <button
        class="btn primary new-chat"
        data-track="new-chat"
        onClick={() => {
          const cur = store.currentSession;
          if (cur && !cur.title) store.select(cur.session_id, "new");
          else void store.create("new");
          onClose();
        }}
      >
        + New chat
      </button>
      {error && (
        <div class="inline-error" role="alert">
          {error} <button class="link-btn" onClick={() => setError(null)}>Dismiss</button>
        </div>
      )}
      <ul class="conv-list" data-track="conversations">
        {visible.map((s) => {
          const active = s.session_id === store.current;
          const title = s.title || "New chat";
          return (
            <li key={s.session_id} class={active ? "conv active" : "conv"} data-session-id={s.session_id}>
              {editing === s.session_id ? (
                <input
                  class="conv-rename"
                  aria-label="Conversation title"
                  value={draft}
                  maxLength={512}
                  ref={(el) => el?.focus()}
                  onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
                  onKeyDown={(e) => {
                    if (e.key === "Enter") void saveRename(s.session_id);
                    if (e.key === "Escape") setEditing(null);
                  }}
                  onBlur={() => void saveRename(s.session_id)}
                />
              ) : (
                <button
                  class="conv-open"
                  aria-current={active ? "true" : undefined}
                  data-track="conversation"
                  onClick={() => {
                    store.select(s.session_id, "sidebar");
                    onClose();
                  }}
                  onKeyDown={(e) => {
                    if (e.key === "F2") {
                      setDraft(s.title ?? "");
                      setEditing(s.session_id);
                    }
                  }}
                >
                  <span class="conv-title">{title}</span>
                  <span class="conv-date">{fmtDate(s.started_at)}</span>
                </button>
              )}
              {confirming === s.session_id ? (
                <span class="conv-confirm">
                  <button class="btn small danger" data-track="conversation-delete-confirm" onClick={() => void remove(s.session_id)}>
                    Delete
                  </button>
                  <button class="btn small" onClick={() => setConfirming(null)}>
                    Keep
                  </button>
                </span>
              ) : (
                <span class="conv-actions">
                  <button
                    class="icon-btn"
                    aria-label={`Rename ${title}`}
                    title="Rename (F2)"
                    data-track="conversation-rename"
                    onClick={() => {
                      setDraft(s.title ?? "");
                      setEditing(s.session_id);
                    }}
                  >
                    <Icon name="pencil" size={16} />
                  </button>
                  <button class="icon-btn" aria-label={`Delete ${title}`} title="Delete" data-track="conversation-delete" onClick={() => setConfirming(s.session_id)}>
                    <Icon name="trash" size={16} />
                  </button>
                </span>
              )}
            </li>
          );
        })}
      </ul>
    </aside>
  );
}
