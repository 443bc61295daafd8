// A conversation's messages (the chat page's and the study task's): loading, a load error
// with Retry, the page's own empty state, and the messages, following the stream while the
// user is at the bottom (a new message brings them back down).
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Conversation, Msg, SendOptions } from "../chat";
import type { Tracker } from "../tracking";
import { MessageView } from "./Message";

export function MessageList({
  conv,
  tracker,
  options,
  onSend,
  loadErrorPrefix,
  empty,
}: {
  conv: Conversation;
  tracker: Tracker;
  /** How to (re)generate an answer: the page's model and files. */
  options: () => SendOptions;
  /** Sends a message as the composer does (an option button's label); false if it cannot now. */
  onSend: (text: string) => boolean;
  /** "Could not load this conversation", ...: followed by the error. */
  loadErrorPrefix: string;
  /** Shown when the conversation has no messages yet. */
  empty: ComponentChildren;
}) {
  const [, force] = useState(0);
  const scroller = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  const count = useRef(0);

  if (conv.messages.length > count.current) pinned.current = true;
  count.current = conv.messages.length;
  useEffect(() => {
    const el = scroller.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  });

  const regenerate = (m: Msg) => void conv.regenerate(m.id, options(), "regenerate");
  const retry = (m: Msg) => void conv.regenerate(m.id, options(), "retry");
  const option = (m: Msg, label: string) => {
    if (onSend(label)) conv.chooseOption(m, label);
  };
  const lastAssistant = [...conv.messages].reverse().find((m) => m.role === "assistant");
  const busy = Boolean(conv.streaming);

  return (
    <div
      class="messages"
      ref={scroller}
      data-track="messages"
      data-testid="messages"
      onScroll={(e) => {
        const el = e.currentTarget;
        pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
      }}
    >
      {conv.loading && !conv.messages.length && <div class="empty">Loading conversation…</div>}
      {conv.loadError && (
        <div class="inline-error" role="alert">
          {loadErrorPrefix}: {conv.loadError}{" "}
          <button class="btn small" onClick={() => void conv.load()}>
            Retry
          </button>
        </div>
      )}
      {!conv.loading && !conv.messages.length && !conv.loadError && empty}
      {conv.messages.map((m) => (
        <MessageView
          key={m.id}
          m={m}
          tracker={tracker}
          isLast={m === lastAssistant}
          onRegenerate={regenerate}
          onRetry={retry}
          onChange={() => force((x) => x + 1)}
          optionsEnabled={m === lastAssistant && !busy}
          onOption={option}
        />
      ))}
    </div>
  );
}
