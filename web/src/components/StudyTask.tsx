// The study's chat task: the app's own conversation components in the participant's study
// session (the server applies the arm's settings), the instructions at hand, and the progress
// toward the completion rule with "Finish" once it is met.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Conversation, type ImageAttachment, type SendOptions } from "../chat";
import type { ParticipantState, StudyClient, StudyProgress } from "../study";
import type { Tracker } from "../tracking";
import { Composer } from "./Composer";
import { MessageList } from "./MessageList";
import { Markdown } from "./StudyMarkdown";

function minutesLabel(m: number): string {
  const whole = Math.floor(m);
  const s = Math.floor((m - whole) * 60);
  return `${whole}:${String(s).padStart(2, "0")}`;
}

export function ProgressView({ progress, localMinutes }: { progress: StudyProgress; localMinutes: number }) {
  const parts: { label: string; done: number; need: number; text: string }[] = [];
  if (progress.min_turns > 0) parts.push({ label: "Messages", done: Math.min(progress.turns, progress.min_turns), need: progress.min_turns, text: `${Math.min(progress.turns, progress.min_turns)} of ${progress.min_turns} messages` });
  if (progress.min_minutes > 0) {
    const m = Math.min(localMinutes, progress.min_minutes);
    parts.push({ label: "Time", done: m, need: progress.min_minutes, text: `${minutesLabel(m)} of ${minutesLabel(progress.min_minutes)}` });
  }
  return (
    <div class="study-progress" data-testid="study-progress" data-met={progress.met ? "true" : "false"}>
      {parts.map((p) => (
        <div key={p.label} class="progress-row">
          <div class="progress-text small">
            <span>{p.label}</span> <span data-testid={`progress-${p.label.toLowerCase()}`}>{p.text}</span>
          </div>
          <progress max={p.need} value={p.done} aria-label={`${p.label}: ${p.text}`} />
        </div>
      ))}
      <p class="small muted" role="status">
        {progress.met ? "You can finish the task now, or keep going." : parts.length ? "Keep going: Finish becomes available when this is complete." : ""}
      </p>
    </div>
  );
}

export function StudyTask({
  state,
  client,
  tracker,
  onState,
  onFinish,
  finishing,
}: {
  state: ParticipantState;
  client: StudyClient;
  tracker: Tracker;
  onState: (s: ParticipantState) => void;
  onFinish: () => void;
  finishing: boolean;
}) {
  const sessionId = state.session_id ?? "";
  const conv = useMemo(() => new Conversation(sessionId, tracker), [sessionId]);
  const [fetchedAt, setFetchedAt] = useState(() => Date.now());
  const [now, setNow] = useState(() => Date.now());
  const [showInstructions, setShowInstructions] = useState(true);
  const wasStreaming = useRef(false);
  const progress = state.progress;
  const localMinutes = progress.minutes + Math.max(0, now - fetchedAt) / 60_000;

  useEffect(() => {
    void conv.load();
    return () => conv.dispose();
  }, [conv]);

  useEffect(() => {
    const t = Date.now();
    setFetchedAt(t);
    setNow(t);
  }, [state]);

  const refresh = async (expectTurns: number, tries = 6): Promise<void> => {
    for (let i = 0; i < tries; i++) {
      try {
        const s = await client.me();
        onState(s);
        if (s.progress.turns >= expectTurns || s.status !== state.status) return;
      } catch {
        /* shown by the next step */
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  // A finished answer counts as a turn on the server: ask for the new progress.
  useEffect(() => {
    const streaming = Boolean(conv.streaming);
    if (wasStreaming.current && !streaming) {
      const done = conv.messages.filter((m) => m.role === "assistant" && m.status === "done").length;
      void refresh(done);
    }
    wasStreaming.current = streaming;
  });

  // The minutes on task tick here; the server is asked once the time rule should be met.
  useEffect(() => {
    if (progress.met || progress.min_minutes <= 0) return;
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [progress.met, progress.min_minutes]);
  const timeDue = !progress.met && progress.min_minutes > 0 && localMinutes >= progress.min_minutes;
  useEffect(() => {
    if (timeDue) void refresh(0, 1);
  }, [timeDue, Math.floor(localMinutes * 6)]);

  // The server applies the arm's model and settings.
  const options = (): SendOptions => ({ provider: null, model: null, fileIds: [], useRag: false, attachments: [] });
  const send = (text: string, _images: ImageAttachment[]): boolean => {
    if (conv.streaming) return false;
    void conv.send(text, options());
    return true;
  };
  const busy = Boolean(conv.streaming);

  return (
    <div class={`study-task ${showInstructions ? "" : "instructions-hidden"}`} data-testid="study-task" data-session={sessionId}>
      <section class="chat-main" aria-label="Conversation">
        <MessageList
          conv={conv}
          tracker={tracker}
          options={options}
          onSend={(text) => send(text, [])}
          loadErrorPrefix="Could not load the conversation"
          empty={
            <div class="empty hero">
              <h2>{state.arm_label || "Task"}</h2>
              <p class="muted">Write your first message below. The instructions stay on the side.</p>
            </div>
          }
        />
        <Composer busy={busy} vision={false} onSend={send} onStop={() => conv.stop()} />
      </section>
      <aside class="study-side" aria-label="Instructions and progress">
        <div class="side-head">
          <h2>Instructions</h2>
          <button class="link-btn small" aria-expanded={showInstructions} onClick={() => setShowInstructions(!showInstructions)} data-track="study-instructions-toggle">
            {showInstructions ? "Hide" : "Show"}
          </button>
        </div>
        {showInstructions && <Markdown class="instructions" text={state.instructions_markdown} testid="instructions" />}
        <h2>Progress</h2>
        <ProgressView progress={progress} localMinutes={localMinutes} />
        <button class="btn primary finish" disabled={!progress.met || busy || finishing} onClick={onFinish} data-track="study-finish" data-testid="finish">
          {finishing ? "Finishing…" : "Finish"}
        </button>
      </aside>
    </div>
  );
}
