import { useEffect, useMemo, useState } from "preact/hooks";
import { Conversation, type ImageAttachment, type SendOptions } from "../chat";
import { storage } from "../config";
import { filesStore } from "../files";
import { modelsStore } from "../models";
import type { SessionsStore } from "../sessions";
import type { Tracker } from "../tracking";
import { Composer, ModelPicker } from "./Composer";
import { FilesPanel } from "./FilesPanel";
import { Icon } from "./Icon";
import { MessageList } from "./MessageList";

const filesKey = (sessionId: string) => `llmp.files.${sessionId}`;

export function ChatPage({
  sessionId,
  sessions,
  tracker,
  studyMode,
}: {
  sessionId: string;
  sessions: SessionsStore;
  tracker: Tracker;
  studyMode: boolean;
}) {
  const conv = useMemo(() => new Conversation(sessionId, tracker), [sessionId]);
  const [filesOpen, setFilesOpen] = useState(() => storage.get("llmp.files_open") === "1");
  const [selectedFiles, setSelectedFiles] = useState<string[]>(() => storage.getJSON<string[]>(filesKey(sessionId), []));
  const [dragging, setDragging] = useState(false);

  useEffect(() => {
    void conv.load();
    void filesStore.refresh();
    return () => conv.dispose();
  }, [conv]);

  const toggleFile = (id: string, on: boolean) => {
    setSelectedFiles((prev) => {
      const next = on ? [...new Set([...prev, id])] : prev.filter((x) => x !== id);
      storage.setJSON(filesKey(sessionId), next);
      return next;
    });
  };

  const setFiles = (open: boolean) => {
    setFilesOpen(open);
    storage.set("llmp.files_open", open ? "1" : "0");
    tracker.track(open ? "files_open" : "files_close", {});
  };

  const options = (): SendOptions => {
    const current = modelsStore.current;
    const usable = selectedFiles.filter((id) => {
      const f = filesStore.get(id);
      return !f || f.status !== "failed";
    });
    return {
      provider: studyMode ? null : current?.provider ?? null,
      model: studyMode ? null : current?.model ?? null,
      fileIds: usable,
      useRag: usable.length > 0,
      attachments: [],
    };
  };

  const send = (text: string, images: ImageAttachment[]): boolean => {
    if (conv.streaming) return false;
    sessions.titleFromQuery(sessionId, text);
    void conv.send(text, { ...options(), attachments: images });
    return true;
  };

  const current = modelsStore.current;
  const busy = Boolean(conv.streaming);

  return (
    <div
      class={`chat ${filesOpen ? "with-files" : ""} ${dragging ? "dragging" : ""}`}
      onDragOver={(e) => {
        if (e.dataTransfer?.types.includes("Files")) {
          e.preventDefault();
          setDragging(true);
        }
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={(e) => {
        setDragging(false);
        if (e.defaultPrevented) return; // the files panel's drop zone took it
        const files = [...(e.dataTransfer?.files ?? [])];
        if (!files.length) return;
        e.preventDefault();
        if (!filesOpen) setFiles(true);
        for (const f of files) {
          tracker.track("file_upload", { size: f.size, mime: f.type, via: "drop" });
          void filesStore.upload(f).then((info) => info?.id && toggleFile(info.id, true));
        }
      }}
    >
      <section class="chat-main" aria-label="Conversation">
        <div class="chat-toolbar">
          {studyMode ? <span class="muted small">The study sets the model for this session.</span> : <ModelPicker disabled={busy} onChange={(key) => tracker.track("model_change", { model: key })} />}
          <span class="spacer" />
          <button class={`btn ghost ${filesOpen ? "active" : ""}`} aria-pressed={filesOpen} onClick={() => setFiles(!filesOpen)} data-track="files-toggle" data-testid="files-toggle">
            <Icon name="file" size={16} /> Files{selectedFiles.length ? ` (${selectedFiles.length})` : ""}
          </button>
        </div>
        <MessageList
          conv={conv}
          tracker={tracker}
          options={options}
          onSend={(text) => send(text, [])}
          loadErrorPrefix="Could not load this conversation"
          empty={
            <div class="empty hero">
              <h1>What would you like to know?</h1>
              <p class="muted">Answers stream in as they are written; reasoning models show their thinking. Add files to ground answers in your documents.</p>
            </div>
          }
        />
        <Composer
          busy={busy}
          vision={Boolean(current?.capabilities.vision) && !studyMode}
          onSend={send}
          onStop={() => conv.stop()}
          extra={
            selectedFiles.length > 0 && (
              <div class="selected-files muted small" data-testid="selected-files">
                Searching {selectedFiles.length} file{selectedFiles.length > 1 ? "s" : ""}:{" "}
                {selectedFiles
                  .map((id) => filesStore.get(id)?.name)
                  .filter(Boolean)
                  .join(", ")}
              </div>
            )
          }
        />
      </section>
      {filesOpen && <FilesPanel selected={selectedFiles} onToggle={toggleFile} tracker={tracker} onClose={() => setFiles(false)} />}
      {dragging && <div class="drop-overlay" aria-hidden="true">Drop to upload</div>}
    </div>
  );
}
