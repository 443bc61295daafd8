// The participant's page of a study (`/s/{study}?PROLIFIC_PID=...`): enter (or resume) ->
// consent -> pre-questionnaire -> chat task -> post-questionnaire -> debrief with the completion
// code and the redirect. Each refusal (closed, full, unknown, completed, bad token) is a page
// of its own; "Withdraw" is always at hand. Framed by a survey, the parent hears of consent,
// completion and withdrawal by postMessage.
import { useEffect, useMemo, useState } from "preact/hooks";
import { auth } from "../auth";
import type { PageConfig } from "../config";
import { type Answer, framed, notifyParent, type ParticipantState, StudyClient, StudyError } from "../study";
import type { Tracker } from "../tracking";
import { Markdown } from "./StudyMarkdown";
import { Questionnaire } from "./StudyQuestionnaire";
import { StudyTask } from "./StudyTask";
import "./study.css";

const REDIRECT_SECONDS = 5;

function urlParams(): Record<string, string> {
  const out: Record<string, string> = {};
  new URLSearchParams(location.search).forEach((v, k) => {
    if (!(k in out)) out[k] = v;
  });
  return out;
}

function safeUrl(raw: string | null): string | null {
  if (!raw) return null;
  try {
    const u = new URL(raw, location.href);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch {
    return null;
  }
}

type Step = "consent" | "pre" | "task" | "post" | "done";
const STEPS: { step: Step; label: string }[] = [
  { step: "consent", label: "Consent" },
  { step: "pre", label: "Questions" },
  { step: "task", label: "Task" },
  { step: "post", label: "Questions" },
  { step: "done", label: "Done" },
];

function Steps({ current, state }: { current: Step; state: ParticipantState }) {
  const shown = STEPS.filter((s) => (s.step !== "pre" || state.pre_questionnaire.length) && (s.step !== "post" || state.post_questionnaire.length));
  const at = shown.findIndex((s) => s.step === current);
  return (
    <ol class="study-steps" aria-label="Steps">
      {shown.map((s, i) => (
        <li key={s.step} class={i < at ? "done" : i === at ? "current" : ""} aria-current={i === at ? "step" : undefined}>
          {s.label}
        </li>
      ))}
    </ol>
  );
}

/** A page that ends the flow (or stops it): a heading, a message, maybe an action. */
function EndPage({ title, children, testid }: { title: string; children?: preact.ComponentChildren; testid: string }) {
  return (
    <section class="study-card end-page" data-testid={testid} role="status">
      <h1>{title}</h1>
      {children}
    </section>
  );
}

function ErrorPage({ error, onRetry, onRestart }: { error: StudyError; onRetry: () => void; onRestart: () => void }) {
  switch (error.type === "not_participant" ? error.type : error.status === 404 ? "not_found" : error.type) {
    case "not_participant":
      return (
        <EndPage title="You are no longer taking part in this study" testid="study-not-participant">
          <p>Your participation has ended and its data was removed. Thank you for your time; you can close this page.</p>
        </EndPage>
      );
    case "not_found":
      return (
        <EndPage title="Study not found" testid="study-not-found">
          <p>There is no study at this address. Please check the link you were given.</p>
        </EndPage>
      );
    case "study_closed":
      return (
        <EndPage title="This study is closed" testid="study-closed">
          <p>The study is not accepting participants at the moment. Thank you for your interest.</p>
        </EndPage>
      );
    case "study_full":
      return (
        <EndPage title="This study is full" testid="study-full">
          <p>All places in this study have been taken. Thank you for your interest.</p>
        </EndPage>
      );
    case "already_completed":
      return (
        <EndPage title="You have already completed this study" testid="study-already-completed">
          <p>Each person can take part once. Thank you for your participation.</p>
        </EndPage>
      );
    case "recruitment_mismatch":
    case "resume_needs_token":
      return (
        <EndPage title="You are already taking part" testid="study-mismatch">
          <p>{error.message}.</p>
        </EndPage>
      );
    case "network_error":
      return (
        <EndPage title="Cannot reach the study" testid="study-network-error">
          <p>{error.message}</p>
          <button class="btn primary" onClick={onRetry}>
            Try again
          </button>
        </EndPage>
      );
    default:
      if (error.status === 401)
        return (
          <EndPage title="Your session could not be verified" testid="study-bad-token">
            <p>The link or the saved session in this browser is not valid for this study ({error.message}).</p>
            <button class="btn primary" onClick={onRestart} data-testid="study-restart">
              Start again from the link
            </button>
          </EndPage>
        );
      return (
        <EndPage title={error.status === 422 ? "This link is incomplete" : "Something went wrong"} testid="study-error">
          <p>{error.message}</p>
          {error.status >= 500 || error.status === 429 ? (
            <button class="btn primary" onClick={onRetry}>
              Try again
            </button>
          ) : null}
        </EndPage>
      );
  }
}

function Debrief({ state }: { state: ParticipantState }) {
  const url = safeUrl(state.redirect_url);
  const inFrame = framed();
  const auto = Boolean(url) && !inFrame && !state.is_preview;
  const [left, setLeft] = useState(REDIRECT_SECONDS);
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!auto || !url) return;
    const t = window.setInterval(() => setLeft((s) => s - 1), 1000);
    const go = window.setTimeout(() => location.assign(url), REDIRECT_SECONDS * 1000);
    return () => {
      clearInterval(t);
      clearTimeout(go);
    };
  }, [auto, url]);
  return (
    <EndPage title="Thank you!" testid="study-debrief">
      <p>You have completed the study. Your completion code is:</p>
      <p class="completion-code">
        <code data-testid="completion-code">{state.completion_code}</code>{" "}
        <button
          class="btn small"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(state.completion_code ?? "");
              setCopied(true);
            } catch {
              /* the code is selectable */
            }
          }}
        >
          {copied ? "Copied" : "Copy"}
        </button>
      </p>
      {url && (
        <p>
          {auto ? <span data-testid="redirect-countdown">You will be taken back in {Math.max(0, left)} s. </span> : inFrame ? "The survey continues in this window. " : ""}
          <a href={url} target={inFrame ? "_top" : undefined} rel="noopener" data-testid="redirect-link">
            {inFrame ? "Continue" : "Continue now"}
          </a>
        </p>
      )}
      {state.is_preview && <p class="muted small">Preview: no redirect, nothing recorded.</p>}
    </EndPage>
  );
}

function Withdraw({ onConfirm, busy }: { onConfirm: () => void; busy: boolean }) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button class="link-btn small withdraw" onClick={() => setAsking(true)} data-track="study-withdraw" data-testid="withdraw">
        Withdraw
      </button>
    );
  return (
    <div class="withdraw-confirm" role="alertdialog" aria-label="Withdraw from the study" data-testid="withdraw-confirm">
      <span>Withdraw from the study? Everything you did here is deleted.</span>
      <button class="btn small danger" disabled={busy} onClick={onConfirm} data-testid="withdraw-yes">
        Withdraw and delete my data
      </button>
      <button class="btn small" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </div>
  );
}

export function StudyApp({ studyId, tracker, config }: { studyId: string; tracker: Tracker; config: PageConfig }) {
  const client = useMemo(() => new StudyClient(studyId), [studyId]);
  const [state, setState] = useState<ParticipantState | null>(null);
  const [error, setError] = useState<StudyError | null>(null);
  const [withdrawn, setWithdrawn] = useState(client.withdrawn);
  const [finished, setFinished] = useState(client.finished);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);

  const start = async () => {
    setError(null);
    try {
      setState(await client.enter(urlParams()));
    } catch (err) {
      const e = err as StudyError;
      // A completed participant coming back to their debrief (their token still works).
      if (e.type === "already_completed" && client.token) {
        try {
          setState(await client.me());
          return;
        } catch {
          /* the page for a completed study */
        }
      }
      setError(e);
    }
  };

  useEffect(() => {
    document.title = `Study · ${config.app_name}`;
    if (!withdrawn) void start();
  }, []);

  const status = state?.status;
  const step: Step | null = !state
    ? null
    : status === "entered"
      ? "consent"
      : status === "consented"
        ? "pre"
        : status === "pre_done" || status === "task"
          ? finished && state.post_questionnaire.length
            ? "post"
            : "task"
          : status === "post_done" || status === "completed"
            ? "done"
            : null;

  // Events go to the study session once the participant has consented.
  useEffect(() => {
    if (state?.session_id && step && step !== "consent") tracker.setSession(state.session_id);
  }, [state?.session_id, step]);
  useEffect(() => {
    if (status) tracker.track("study_step", { study_id: studyId, status, step });
    if (status === "completed" && state?.completion_code) notifyParent({ type: "llm-platform:complete", study: studyId, code: state.completion_code });
    if (status === "completed" || status === "withdrawn") {
      client.finished = false;
      client.dropDrafts();
    }
  }, [status, step]);

  const act = async (fn: () => Promise<ParticipantState>) => {
    setBusy(true);
    setActionError(null);
    try {
      const s = await fn();
      setState(s);
      return s;
    } catch (err) {
      const e = err as StudyError;
      if (e.status === 401 || e.status === 404 || e.type === "study_closed") setError(e);
      else setActionError(e.message);
      throw e;
    } finally {
      setBusy(false);
    }
  };

  const complete = () => act(() => client.complete()).catch(() => undefined);

  // Steps with nothing to ask are passed through; answers given but not completed are completed.
  useEffect(() => {
    if (!state || busy) return;
    if (status === "consented" && !state.pre_questionnaire.length) void act(() => client.answers("pre", {})).catch(() => undefined);
    else if (status === "post_done") void complete();
  }, [status]);

  const consent = async (agree: boolean) => {
    try {
      await act(() => client.consent(agree));
      notifyParent({ type: "llm-platform:consent", study: studyId, agree });
    } catch {
      /* shown */
    }
  };

  // Errors are the questionnaire's to show (per item, inline).
  const answer = (phase: "pre" | "post") => async (answers: Record<string, Answer>) => {
    try {
      setState(await client.answers(phase, answers));
    } catch (err) {
      const e = err as StudyError;
      if (e.status === 401 || e.type === "study_closed") setError(e);
      throw e;
    }
  };

  const finish = () => {
    if (state?.post_questionnaire.length) {
      client.finished = true;
      setFinished(true);
      tracker.track("study_finish_task", {});
    } else void complete();
  };

  const withdraw = async () => {
    try {
      tracker.track("study_withdraw", {});
      await act(() => client.withdraw());
      tracker.setEnabled(false); // nothing more of this participant is recorded
      client.forget();
      client.withdrawn = true;
      client.finished = false;
      notifyParent({ type: "llm-platform:withdraw", study: studyId });
    } catch {
      /* shown */
    }
  };

  if (withdrawn && !state)
    return (
      <StudyShell state={null}>
        <EndPage title="You have withdrawn from the study" testid="study-withdrawn">
          <p>This browser withdrew from this study and its data was deleted. Thank you for your time; you can close this page.</p>
          <button
            class="link-btn small"
            onClick={() => {
              client.withdrawn = false;
              setWithdrawn(false);
              void start();
            }}
          >
            Take part again
          </button>
        </EndPage>
      </StudyShell>
    );
  if (auth.studyRejected && !error && status !== "withdrawn" && status !== "declined" && status !== "completed") {
    return (
      <StudyShell state={state}>
        <ErrorPage error={new StudyError(auth.studyRejected, 401, "unauthorized")} onRetry={() => void start()} onRestart={() => (client.forget(), void start())} />
      </StudyShell>
    );
  }
  if (error)
    return (
      <StudyShell state={state}>
        <ErrorPage
          error={error}
          onRetry={() => void start()}
          onRestart={() => {
            client.forget();
            void start();
          }}
        />
      </StudyShell>
    );
  if (!state)
    return (
      <StudyShell state={null}>
        <div class="empty" data-testid="study-loading">
          Loading…
        </div>
      </StudyShell>
    );

  const canWithdraw = status !== "withdrawn" && status !== "declined";
  return (
    <StudyShell state={state} step={step} withdraw={canWithdraw ? <Withdraw busy={busy} onConfirm={() => void withdraw()} /> : null}>
      {actionError && (
        <div class="inline-error study-action-error" role="alert" data-testid="study-action-error">
          {actionError}
        </div>
      )}
      {status === "declined" && (
        <EndPage title="You declined to take part" testid="study-declined">
          <p>Thank you for considering this study. Nothing more will be recorded; you can close this page.</p>
        </EndPage>
      )}
      {status === "withdrawn" && (
        <EndPage title="You have withdrawn from the study" testid="study-withdrawn">
          <p>Your answers and your conversation have been deleted. Thank you for your time; you can close this page.</p>
        </EndPage>
      )}
      {step === "consent" && (
        <section class="study-card consent" data-testid="study-consent">
          <h1>Consent</h1>
          <Markdown class="consent-text" text={state.consent_markdown} testid="consent-text" />
          <div class="study-actions">
            <button class="btn" disabled={busy} onClick={() => void consent(false)} data-track="study-decline" data-testid="consent-decline">
              I do not agree
            </button>
            <button class="btn primary" disabled={busy} onClick={() => void consent(true)} data-track="study-agree" data-testid="consent-agree">
              I agree
            </button>
          </div>
        </section>
      )}
      {step === "pre" && state.pre_questionnaire.length > 0 && <Questionnaire key="pre" studyId={studyId} phase="pre" items={state.pre_questionnaire} title="Before the task" onSubmit={answer("pre")} />}
      {step === "task" && state.session_id && <StudyTask state={state} client={client} tracker={tracker} onState={setState} onFinish={finish} finishing={busy} />}
      {step === "post" && (
        <>
          <Questionnaire key="post" studyId={studyId} phase="post" items={state.post_questionnaire} title="After the task" onSubmit={answer("post")} />
          <p class="study-back">
            <button
              class="link-btn small"
              onClick={() => {
                client.finished = false;
                setFinished(false);
              }}
            >
              Back to the task
            </button>
          </p>
        </>
      )}
      {step === "done" && status === "completed" && <Debrief state={state} />}
      {step === "done" && status !== "completed" && (
        <div class="empty">
          {busy ? (
            "Finishing…"
          ) : (
            <button class="btn primary" onClick={() => void complete()} data-testid="study-complete-retry">
              Finish the study
            </button>
          )}
        </div>
      )}
      {(step === "pre" && !state.pre_questionnaire.length) || (step === "task" && !state.session_id) ? <div class="empty">Loading…</div> : null}
    </StudyShell>
  );
}

function StudyShell({ state, step, withdraw, children }: { state: ParticipantState | null; step?: Step | null; withdraw?: preact.ComponentChildren; children: preact.ComponentChildren }) {
  return (
    <div class={`study-layout ${step === "task" ? "is-task" : ""}`} data-testid="study" data-status={state?.status ?? ""}>
      <header class="topbar study-bar">
        <span class="brand">{state?.study_name ?? "Study"}</span>
        {state?.is_preview && (
          <span class="pill preview" data-testid="preview-badge" title="A researcher's preview: nothing here is part of the study's data">
            Preview
          </span>
        )}
        {state && step && <Steps current={step} state={state} />}
        <span class="spacer" />
        {withdraw}
      </header>
      <main id="main" class={`study-main ${step === "task" ? "task" : ""}`} tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
