import { useState } from "preact/hooks";
import { Icon } from "./Icon";

/** Copies `text` to the clipboard and says so for a moment; where the clipboard is refused, the
 * text stays in its selectable field beside the button. */
export function CopyButton({ text, track }: { text: string; track?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      class="btn small"
      data-track={track}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setCopied(true);
          setTimeout(() => setCopied(false), 1500);
        } catch {
          /* the field is selectable */
        }
      }}
    >
      <Icon name={copied ? "check" : "copy"} size={14} /> {copied ? "Copied" : "Copy"}
    </button>
  );
}
