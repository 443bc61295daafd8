import { useRef, useState } from "preact/hooks";
import type { ImageAttachment } from "../chat";
import { modelKey, modelsStore } from "../models";
import type { ModelInfo } from "../types";
import { Icon } from "./Icon";

const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

function readAsDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

function Capabilities({ m }: { m: ModelInfo | undefined }) {
  if (!m) return null;
  const caps = [m.capabilities.reasoning && "reasoning", m.capabilities.vision && "vision", m.capabilities.tools && "tools", m.capabilities.web_search && "web search"].filter(Boolean) as string[];
  return (
    <span class="caps" data-testid="model-caps">
      {caps.map((c) => (
        <span key={c} class={`cap cap-${c.replace(" ", "-")}`}>
          {c}
        </span>
      ))}
    </span>
  );
}

export function ModelPicker({ disabled, onChange }: { disabled?: boolean; onChange?: (key: string) => void }) {
  const providers = [...new Set(modelsStore.models.map((m) => m.provider))];
  if (modelsStore.error && !modelsStore.models.length) return <span class="muted small">Models unavailable: {modelsStore.error}</span>;
  return (
    <span class="model-picker">
      <label class="sr-only" for="model-select">
        Model
      </label>
      <select
        id="model-select"
        data-track="model-select"
        value={modelsStore.selected ?? ""}
        disabled={disabled}
        onChange={(e) => {
          const key = (e.target as HTMLSelectElement).value;
          modelsStore.select(key);
          onChange?.(key);
        }}
      >
        {providers.map((p) => (
          <optgroup key={p} label={p}>
            {modelsStore.models
              .filter((m) => m.provider === p)
              .map((m) => {
                const tags = [m.capabilities.reasoning && "reasoning", m.capabilities.vision && "vision"].filter(Boolean).join(", ");
                return (
                  <option key={modelKey(m)} value={modelKey(m)}>
                    {m.model}
                    {tags ? ` (${tags})` : ""}
                  </option>
                );
              })}
          </optgroup>
        ))}
      </select>
      <Capabilities m={modelsStore.current} />
    </span>
  );
}

export function Composer({
  busy,
  vision,
  onSend,
  onStop,
  extra,
}: {
  busy: boolean;
  vision: boolean;
  onSend: (text: string, images: ImageAttachment[]) => boolean;
  onStop: () => void;
  extra?: preact.ComponentChildren;
}) {
  const [text, setText] = useState("");
  const [images, setImages] = useState<ImageAttachment[]>([]);
  const [error, setError] = useState<string | null>(null);
  const ta = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  const autosize = () => {
    const el = ta.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 240)}px`;
  };

  const addImages = async (files: File[]) => {
    setError(null);
    const out: ImageAttachment[] = [];
    for (const f of files) {
      if (!f.type.startsWith("image/")) {
        setError(`${f.name} is not an image`);
        continue;
      }
      if (f.size > MAX_IMAGE_BYTES) {
        setError(`${f.name} is larger than 5 MB`);
        continue;
      }
      out.push({ name: f.name, mime: f.type, dataUrl: await readAsDataUrl(f) });
    }
    setImages((prev) => [...prev, ...out].slice(0, 4));
  };

  const submit = () => {
    const value = text.trim();
    if (!value || busy) return;
    if (onSend(value, images)) {
      setText("");
      setImages([]);
      requestAnimationFrame(autosize);
    }
  };

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {images.length > 0 && (
        <div class="attachments pending">
          {images.map((a, i) => (
            <span class="thumb-wrap" key={i}>
              <img src={a.dataUrl} alt={a.name} class="thumb" />
              <button type="button" class="icon-btn tiny" aria-label={`Remove ${a.name}`} onClick={() => setImages(images.filter((_, j) => j !== i))}>
                <Icon name="x" size={12} />
              </button>
            </span>
          ))}
        </div>
      )}
      {error && (
        <div class="inline-error small" role="alert">
          {error}
        </div>
      )}
      <div class="composer-row">
        {vision && (
          <>
            <button type="button" class="icon-btn" aria-label="Attach image" title="Attach image" data-track="attach-image" onClick={() => fileInput.current?.click()}>
              <Icon name="clip" />
            </button>
            <input
              ref={fileInput}
              type="file"
              accept="image/*"
              multiple
              hidden
              data-testid="image-input"
              onChange={(e) => {
                const input = e.target as HTMLInputElement;
                void addImages([...(input.files ?? [])]);
                input.value = "";
              }}
            />
          </>
        )}
        <label class="sr-only" for="composer-input">
          Message
        </label>
        <textarea
          id="composer-input"
          ref={ta}
          rows={1}
          placeholder="Ask anything… (Enter to send, Shift+Enter for a new line)"
          value={text}
          data-track="composer"
          onInput={(e) => {
            setText((e.target as HTMLTextAreaElement).value);
            autosize();
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              submit();
            }
          }}
          onPaste={(e) => {
            if (!vision) return;
            const files = [...(e.clipboardData?.files ?? [])].filter((f) => f.type.startsWith("image/"));
            if (files.length) {
              e.preventDefault();
              void addImages(files);
            }
          }}
        />
        {busy ? (
          <button type="button" class="btn stop" onClick={onStop} data-track="stop" data-testid="stop" aria-label="Stop generating">
            <Icon name="stop" size={16} /> Stop
          </button>
        ) : (
          <button type="submit" class="btn primary send" disabled={!text.trim()} data-track="send" data-testid="send" aria-label="Send">
            <Icon name="send" size={16} /> Send
          </button>
        )}
      </div>
      {extra}
    </form>
  );
}
