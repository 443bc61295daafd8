// A study's questionnaire: Likert, single/multiple choice, free text and number items, with
// required flags checked here first and the server's per-item errors (422) shown inline.
import { useRef, useState } from "preact/hooks";
import { storage } from "../config";
import type { Answer, Item } from "../study";
import { StudyError } from "../study";

type Values = Record<string, Answer | undefined>;

function empty(v: Answer | undefined): boolean {
  return v === undefined || v === "" || (Array.isArray(v) && v.length === 0);
}

/** The problem with one answer, as the participant should read it (null when fine). */
export function checkItem(item: Item, v: Answer | undefined): string | null {
  if (empty(v)) return item.required ? "Please answer this question." : null;
  if (item.kind === "number") {
    const n = Number(v);
    if (!Number.isFinite(n)) return "Please enter a number.";
    if (item.min != null && n < item.min) return `Please enter a number of at least ${item.min}.`;
    if (item.max != null && n > item.max) return `Please enter a number of at most ${item.max}.`;
  }
  if (item.kind === "text" && item.max_length != null && String(v).length > item.max_length) return `Please keep this under ${item.max_length} characters.`;
  return null;
}

function ItemInput({ item, value, onChange, invalid, describedBy }: { item: Item; value: Answer | undefined; onChange: (v: Answer | undefined) => void; invalid: boolean; describedBy?: string }) {
  const name = `q-${item.id}`;
  switch (item.kind) {
    case "likert": {
      const min = item.scale?.min ?? 1;
      const max = item.scale?.max ?? 7;
      const points = Array.from({ length: Math.max(0, max - min + 1) }, (_, i) => min + i);
      return (
        <div class="likert" role="radiogroup" aria-label={item.prompt} aria-invalid={invalid} aria-describedby={describedBy}>
          {item.scale?.min_label && <span class="likert-label muted small">{item.scale.min_label}</span>}
          {points.map((p) => (
            <label key={p} class="likert-point">
              <input type="radio" name={name} value={String(p)} checked={value === p} onChange={() => onChange(p)} />
              <span>{p}</span>
            </label>
          ))}
          {item.scale?.max_label && <span class="likert-label muted small">{item.scale.max_label}</span>}
        </div>
      );
    }
    case "single":
      return (
        <div class="choices" role="radiogroup" aria-label={item.prompt} aria-invalid={invalid} aria-describedby={describedBy}>
          {(item.options ?? []).map((o) => (
            <label key={o} class="choice">
              <input type="radio" name={name} value={o} checked={value === o} onChange={() => onChange(o)} /> {o}
            </label>
          ))}
        </div>
      );
    case "multiple": {
      const chosen = Array.isArray(value) ? value : [];
      return (
        <div class="choices" aria-describedby={describedBy}>
          {(item.options ?? []).map((o) => (
            <label key={o} class="choice">
              <input
                type="checkbox"
                name={name}
                value={o}
                checked={chosen.includes(o)}
                onChange={(e) => {
                  const on = (e.target as HTMLInputElement).checked;
                  onChange(on ? [...chosen, o] : chosen.filter((x) => x !== o));
                }}
              />{" "}
              {o}
            </label>
          ))}
        </div>
      );
    }
    case "number":
      return (
        <input
          type="number"
          class="q-number"
          name={name}
          aria-label={item.prompt}
          aria-invalid={invalid}
          aria-describedby={describedBy}
          min={item.min ?? undefined}
          max={item.max ?? undefined}
          step="any"
          value={value === undefined ? "" : String(value)}
          onInput={(e) => {
            const raw = (e.target as HTMLInputElement).value;
            onChange(raw === "" ? undefined : Number(raw));
          }}
        />
      );
    default:
      return (
        <textarea
          class="q-text"
          name={name}
          rows={3}
          aria-label={item.prompt}
          aria-invalid={invalid}
          aria-describedby={describedBy}
          maxLength={item.max_length ?? undefined}
          value={typeof value === "string" ? value : ""}
          onInput={(e) => onChange((e.target as HTMLTextAreaElement).value)}
        />
      );
  }
}

export function Questionnaire({
  studyId,
  phase,
  items,
  title,
  onSubmit,
}: {
  studyId: string;
  phase: "pre" | "post";
  items: Item[];
  title: string;
  onSubmit: (answers: Record<string, Answer>) => Promise<void>;
}) {
  // A draft survives a reload (this browser only; the server has nothing until "Continue").
  const draftKey = `llmp.study.${studyId}.${phase}.draft`;
  const [values, setValues] = useState<Values>(() => storage.getJSON<Values>(draftKey, {}));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);

  const set = (id: string, v: Answer | undefined) => {
    const next = { ...values, [id]: v };
    setValues(next);
    storage.setJSON(draftKey, next);
    if (errors[id]) setErrors({ ...errors, [id]: "" });
  };

  const focusFirstError = (errs: Record<string, string>) => {
    const first = items.find((i) => errs[i.id]);
    if (!first) return;
    requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>(`[data-item="${CSS.escape(first.id)}"] input, [data-item="${CSS.escape(first.id)}"] textarea`)?.focus());
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setFormError(null);
    const errs: Record<string, string> = {};
    for (const item of items) {
      const problem = checkItem(item, values[item.id]);
      if (problem) errs[item.id] = problem;
    }
    setErrors(errs);
    if (Object.keys(errs).length) {
      setFormError("Some answers need your attention.");
      focusFirstError(errs);
      return;
    }
    const answers: Record<string, Answer> = {};
    for (const item of items) {
      const v = values[item.id];
      if (!empty(v)) answers[item.id] = v as Answer;
    }
    setSending(true);
    try {
      await onSubmit(answers);
      storage.remove(draftKey);
    } catch (err) {
      const se = err as StudyError;
      if (se instanceof StudyError && Object.keys(se.itemErrors).length) {
        setErrors(se.itemErrors);
        setFormError("Some answers need your attention.");
        focusFirstError(se.itemErrors);
      } else setFormError((err as Error).message);
    } finally {
      setSending(false);
    }
  };

  return (
    <form class="study-card questionnaire" ref={formRef} onSubmit={submit} noValidate data-testid={`questionnaire-${phase}`}>
      <h1>{title}</h1>
      <p class="muted small">Questions marked * need an answer.</p>
      {items.map((item, i) => {
        const err = errors[item.id];
        const errId = `err-${phase}-${item.id}`;
        return (
          <fieldset key={item.id} class={`q-item ${err ? "has-error" : ""}`} data-item={item.id} data-testid={`item-${item.id}`}>
            <legend>
              <span class="q-n">{i + 1}.</span> <span class="q-prompt">{item.prompt}</span>
              {item.required && (
                <span class="q-required" aria-label="required">
                  {" "}
                  *
                </span>
              )}
            </legend>
            <ItemInput item={item} value={values[item.id]} onChange={(v) => set(item.id, v)} invalid={Boolean(err)} describedBy={err ? errId : undefined} />
            {err && (
              <div class="q-error" id={errId} role="alert" data-testid="item-error">
                {err}
              </div>
            )}
          </fieldset>
        );
      })}
      {formError && (
        <div class="inline-error" role="alert" data-testid="form-error">
          {formError}
        </div>
      )}
      <div class="study-actions">
        <button type="submit" class="btn primary" disabled={sending} data-track={`study-${phase}-submit`} data-testid="questionnaire-submit">
          {sending ? "Sending…" : "Continue"}
        </button>
      </div>
    </form>
  );
}
