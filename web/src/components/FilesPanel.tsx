import { useEffect, useState } from "preact/hooks";
import { filesStore } from "../files";
import { fmtBytes } from "../format";
import type { Tracker } from "../tracking";
import { Icon } from "./Icon";

export function StatusChip({ status, progress, stage }: { status: string; progress?: number | null; stage?: string | null }) {
  const label = status === "processing" ? `${stage || "processing"}${progress != null ? ` ${Math.round(progress * 100)}%` : ""}` : status;
  return (
    <span class={`status status-${status}`} data-testid="file-status">
      {label}
    </span>
  );
}

export function FilesPanel({
  selected,
  onToggle,
  tracker,
  onClose,
}: {
  selected: string[];
  onToggle: (id: string, on: boolean) => void;
  tracker: Tracker;
  onClose: () => void;
}) {
  const [confirming, setConfirming] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [over, setOver] = useState(false);
  useEffect(() => {
    void filesStore.refresh();
  }, []);

  const upload = (files: File[]) => {
    for (const f of files) {
      tracker.track("file_upload", { name_length: f.name.length, size: f.size, mime: f.type });
      void filesStore.upload(f).then((info) => {
        if (info?.id) onToggle(info.id, true);
      });
    }
  };

  return (
    <aside class="files-panel" aria-label="Files" data-testid="files-panel">
      <div class="panel-head">
        <h2>Files</h2>
        <button class="icon-btn" aria-label="Close files" onClick={onClose} data-track="files-close">
          <Icon name="x" />
        </button>
      </div>
      {!filesStore.available ? (
        <p class="muted">This server has no file support.</p>
      ) : (
        <>
          <label
            class={`dropzone ${over ? "over" : ""}`}
            onDragOver={(e) => {
              e.preventDefault();
              setOver(true);
            }}
            onDragLeave={() => setOver(false)}
            onDrop={(e) => {
              // Handled here: the chat's own drop target (around this panel) sees it handled.
              e.preventDefault();
              setOver(false);
              upload([...(e.dataTransfer?.files ?? [])]);
            }}
          >
            <input
              type="file"
              multiple
              class="sr-only"
              data-testid="file-input"
              onChange={(e) => {
                const input = e.target as HTMLInputElement;
                upload([...(input.files ?? [])]);
                input.value = "";
              }}
            />
            <span>
              <strong>Drop files here</strong> or choose files
            </span>
            <span class="muted small">PDF, DOCX, text, images, audio</span>
          </label>
          {filesStore.uploads.map((u) => (
            <div class="upload" key={u.key} data-testid="upload">
              <span class="file-name">{u.name}</span>
              {u.error ? (
                <span class="inline-error small" role="alert">
                  {u.error}
                </span>
              ) : (
                <progress max={u.total || 1} value={u.loaded} aria-label={`Uploading ${u.name}`} />
              )}
            </div>
          ))}
          {error && (
            <div class="inline-error small" role="alert">
              {error}
            </div>
          )}
          <p class="muted small">Checked files are searched for this chat's answers.</p>
          <ul class="file-list">
            {filesStore.files.map((f) => {
              const ready = f.status === "ready";
              return (
                <li key={f.id} class="file-item" data-file-id={f.id}>
                  <label class="file-check">
                    <input
                      type="checkbox"
                      checked={selected.includes(f.id)}
                      disabled={f.status === "failed"}
                      onChange={(e) => {
                        const on = (e.target as HTMLInputElement).checked;
                        tracker.track("file_select", { file_id: f.id, selected: on });
                        onToggle(f.id, on);
                      }}
                    />
                    <span class="file-name" title={f.name}>
                      {f.name}
                    </span>
                  </label>
                  <span class="file-meta">
                    <StatusChip status={f.status} progress={f.progress} stage={f.stage} />
                    {ready && f.pages != null && <span class="muted small">{f.pages} p.</span>}
                    {f.size != null && <span class="muted small">{fmtBytes(f.size)}</span>}
                  </span>
                  {f.status === "processing" && f.progress != null && <progress max={1} value={f.progress} aria-label={`Processing ${f.name}`} />}
                  {f.error && <span class="inline-error small">{f.error}</span>}
                  {confirming === f.id ? (
                    <span class="conv-confirm">
                      <button
                        class="btn small danger"
                        onClick={async () => {
                          setConfirming(null);
                          try {
                            await filesStore.remove(f.id);
                            onToggle(f.id, false);
                            tracker.track("file_delete", { file_id: f.id });
                          } catch (err) {
                            setError((err as Error).message);
                          }
                        }}
                      >
                        Delete
                      </button>
                      <button class="btn small" onClick={() => setConfirming(null)}>
                        Keep
                      </button>
                    </span>
                  ) : (
                    <button class="icon-btn" aria-label={`Delete ${f.name}`} onClick={() => setConfirming(f.id)}>
                      <Icon name="trash" size={16} />
                    </button>
                  )}
                </li>
              );
            })}
          </ul>
          {filesStore.loaded && !filesStore.files.length && !filesStore.uploads.length && <p class="muted">No files yet.</p>}
        </>
      )}
    </aside>
  );
}
