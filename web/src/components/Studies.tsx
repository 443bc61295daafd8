// The researcher's studies: create one from a pasted (or loaded) JSON/YAML definition, watch
// participants arrive per arm (polled while the page is visible), open/close, preview any arm
// as a participant would see it, download the data and its codebook.
import { useEffect, useState } from "preact/hooks";
import { fmtDate, fmtInt } from "../format";
import { type ArmProgress, EXPORT_FORMATS, EXPORT_TABLES, type ParticipantRow, researcher, type StudyOut, type StudyProgressOut } from "../study";
import { ApiLink } from "./ApiLink";
import { CopyButton } from "./CopyButton";
import { Icon } from "./Icon";
import "./study.css";

const POLL_MS = 3000;
const enc = encodeURIComponent;

const EXAMPLE = `{
  "id": "my-study",
  "name": "My study",
  "consent_markdown": "You are invited to take part in a study...",
  "instructions_markdown": "Ask the assistant about ...",
  "arms": [{"name": "a", "system_prompt": "Be concise."}, {"name": "b", "system_prompt": "Be thorough."}],
  "pre_questionnaire": [{"id": "age", "kind": "number", "prompt": "Your age", "required": true, "min": 18, "max": 99}],
  "post_questionnaire": [{"id": "trust", "kind": "likert", "prompt": "I trust the answers", "required": true, "scale": {"min": 1, "max": 7}}],
  "completion": {"min_turns": 3, "code": "C0DE", "redirect_url": "https://app.prolific.com/submissions/complete?cc=C0DE"},
  "target_per_arm": 50
}`;

function DefinitionForm({ editing, onSaved, onCancel }: { editing: StudyOut | null; onSaved: (s: StudyOut) => void; onCancel: () => void }) {
  const [text, setText] = useState(editing ? JSON.stringify(editing.definition, null, 2) : "");
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  useEffect(() => setText(editing ? JSON.stringify(editing.definition, null, 2) : ""), [editing?.id]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    if (!text.trim()) {
      setError("Paste a study definition (JSON or YAML) first.");
      return;
    }
    setSaving(true);
    try {
      let saved: StudyOut;
      if (editing) {
        let definition: unknown;
        try {
          definition = JSON.parse(text);
        } catch (err) {
          throw new Error(`Not valid JSON: ${(err as Error).message}`);
        }
        saved = await researcher.update(editing.id, definition);
      } else saved = await researcher.importText(text);
      setText("");
      onSaved(saved);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setSaving(false);
    }
  };

  return (
    <form class="panel" onSubmit={submit} data-testid="study-form">
      <h2>{editing ? `Edit ${editing.name}` : "New study"}</h2>
      <p class="muted small">
        {editing
          ? "Saving after participants have taken part creates a new version; every record says which version it was made under."
          : "Paste the study definition as JSON or YAML, or load it from a file (the same file the definition download gives)."}
      </p>
      {!editing && (
        <label class="block small">
          Load a file{" "}
          <input
            type="file"
            accept=".json,.yaml,.yml,application/json,application/yaml,text/yaml"
            data-testid="study-file"
            onChange={async (e) => {
              const f = (e.target as HTMLInputElement).files?.[0];
              if (f) setText(await f.text());
            }}
          />
        </label>
      )}
      <textarea class="definition" rows={14} value={text} placeholder={EXAMPLE} spellcheck={false} aria-label="Study definition (JSON or YAML)" onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} data-testid="study-definition" />
      {error && (
        <div class="inline-error" role="alert" data-testid="study-form-error">
          {error}
        </div>
      )}
      <div class="form-actions">
        {editing && (
          <button type="button" class="btn" onClick={onCancel}>
            Cancel
          </button>
        )}
        <span class="spacer" />
        <button type="submit" class="btn primary" disabled={saving} data-testid="study-create">
          {editing ? "Save new version" : "Create study"}
        </button>
      </div>
    </form>
  );
}

function ProgressTable({ study, progress }: { study: StudyOut; progress: StudyProgressOut | null }) {
  const arms: ArmProgress[] = progress?.arms ?? study.definition.arms.map((a) => ({ arm: a.name, started: 0, consented: 0, completed: 0, dropped: 0, declined: 0, withdrawn: 0, median_minutes_on_task: null, turns: 0, attention_failures: 0 }));
  const target = study.definition.target_per_arm;
  return (
    <div class="table-wrap">
      <table class="table" data-testid="study-progress-table">
        <thead>
          <tr>
            <th>Arm</th>
            <th class="num">Started</th>
            <th class="num">Active</th>
            <th class="num">Consented</th>
            <th class="num">Completed</th>
            <th class="num">Dropped</th>
            <th class="num">Declined</th>
            <th class="num">Withdrawn</th>
            <th class="num">Median min on task</th>
            <th class="num">Turns</th>
            <th class="num">Attention fails</th>
          </tr>
        </thead>
        <tbody>
          {[...arms, ...(progress?.totals && arms.length > 1 ? [{ ...progress.totals, arm: "all" }] : [])].map((a) => (
            <tr key={a.arm} data-arm={a.arm} class={a.arm === "all" && progress?.totals ? "totals" : ""}>
              <td>{a.arm}</td>
              <td class="num" data-col="started">
                {fmtInt(a.started)}
              </td>
              <td class="num" data-col="active">
                {a.active == null ? "–" : fmtInt(a.active)}
              </td>
              <td class="num" data-col="consented">
                {fmtInt(a.consented)}
              </td>
              <td class="num" data-col="completed">
                {fmtInt(a.completed)}
                {target && a.arm !== "all" ? <span class="muted small"> / {fmtInt(target)}</span> : null}
              </td>
              <td class="num" data-col="dropped">
                {fmtInt(a.dropped)}
              </td>
              <td class="num" data-col="declined">
                {fmtInt(a.declined)}
              </td>
              <td class="num" data-col="withdrawn">
                {fmtInt(a.withdrawn)}
              </td>
              <td class="num">{a.median_minutes_on_task == null ? "–" : a.median_minutes_on_task.toFixed(1)}</td>
              <td class="num" data-col="turns">
                {fmtInt(a.turns)}
              </td>
              <td class="num" data-col="attention">
                {fmtInt(a.attention_failures)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {progress?.updated_at && <div class="muted small">Updated {fmtDate(progress.updated_at)}</div>}
    </div>
  );
}

/** One row per participant (pseudonymous), loaded when opened and refreshed with the progress. */
function ParticipantsList({ id, tick }: { id: string; tick: number }) {
  const [open, setOpen] = useState(false);
  const [rows, setRows] = useState<ParticipantRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!open) return;
    researcher
      .participants(id)
      .then((r) => {
        setRows(r);
        setError(null);
      })
      .catch((err) => setError((err as Error).message));
  }, [open, tick, id]);
  return (
    <details class="participants" onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)} data-testid="study-participants">
      <summary>Participants{rows ? ` (${rows.length})` : ""}</summary>
      {error && <div class="inline-error small">{error}</div>}
      {rows && (
        <div class="table-wrap">
          <table class="table small">
            <thead>
              <tr>
                <th>Pseudonym</th>
                <th>Arm</th>
                <th>Status</th>
                <th class="num">Version</th>
                <th>Entered</th>
                <th>Completed</th>
                <th>Last seen</th>
                <th class="num">Turns</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.pseudonym} data-pseudonym={r.pseudonym}>
                  <td>
                    <code>{r.pseudonym}</code>
                    {r.is_pilot && <span class="pill small"> pilot</span>}
                  </td>
                  <td>{r.arm}</td>
                  <td data-col="status">{r.status}</td>
                  <td class="num">{r.version}</td>
                  <td>{fmtDate(r.entered_at)}</td>
                  <td>{r.completed_at ? fmtDate(r.completed_at) : "–"}</td>
                  <td>{fmtDate(r.last_seen_at)}</td>
                  <td class="num">{fmtInt(r.turns)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </details>
  );
}

function StudyCard({ initial, onEdit }: { initial: StudyOut; onEdit: (s: StudyOut) => void }) {
  const [study, setStudy] = useState(initial);
  const [progress, setProgress] = useState<StudyProgressOut | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [pilot, setPilot] = useState(false);
  const id = study.id;

  useEffect(() => setStudy(initial), [initial]);

  // Live: polled every few seconds while the page is visible, slower when hidden.
  useEffect(() => {
    let stop = false;
    let timer = 0;
    const tick = async () => {
      try {
        const p = await researcher.progress(id, pilot);
        if (!stop) {
          setProgress(p);
          setError(null);
        }
      } catch (err) {
        if (!stop) setError((err as Error).message);
      }
      if (!stop) timer = window.setTimeout(tick, document.visibilityState === "visible" ? POLL_MS : 5 * POLL_MS);
    };
    void tick();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [id, pilot]);

  const setState = async (action: "open" | "close") => {
    setBusy(true);
    setError(null);
    try {
      setStudy(await researcher.setState(id, action));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const preview = async (arm: string) => {
    setError(null);
    // Opened now (a popup must come from the click), pointed at the preview once minted.
    const win = window.open("about:blank", "_blank");
    try {
      const p = await researcher.preview(id, arm);
      const base = p.url || `/s/${enc(id)}`;
      const url = /[#&]token=/.test(base) ? base : `${base}${base.includes("#") ? "&" : "#"}token=${enc(p.token)}`;
      if (win) win.location.href = url;
      else location.assign(url);
    } catch (err) {
      win?.close();
      setError((err as Error).message);
    }
  };

  const link = new URL(study.participant_link || `/s/${enc(id)}`, location.origin).href;
  const prolific = `${link}?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}`;
  const api = `/api/v1/studies/${enc(id)}`;
  return (
    <section class="panel exp-card" data-testid="study-card" data-study-id={id}>
      <div class="panel-head">
        <h2>{study.name}</h2>
        <span class={`pill state state-${study.state}`} data-testid="study-state">
          {study.state}
        </span>
        <span class="muted small">
          {id} · version {study.version} · created {fmtDate(study.created_at)}
        </span>
      </div>
      <div class="participant-link">
        <label class="block">
          Participant link (Prolific: the parameters are filled in by Prolific)
          <input readOnly value={prolific} onFocus={(e) => (e.target as HTMLInputElement).select()} data-testid="study-link" />
        </label>
        <CopyButton text={prolific} />
      </div>
      <div class="form-actions">
        {study.state !== "open" ? (
          <button class="btn primary small" disabled={busy} onClick={() => void setState("open")} data-testid="study-open">
            Open study
          </button>
        ) : (
          <button class="btn small" disabled={busy} onClick={() => void setState("close")} data-testid="study-close">
            Close study
          </button>
        )}
        <button class="btn small" onClick={() => onEdit(study)} data-testid="study-edit">
          <Icon name="pencil" size={14} /> Edit
        </button>
        <span class="muted small">Preview:</span>
        {study.definition.arms.map((a) => (
          <button key={a.name} class="btn small" onClick={() => void preview(a.name)} data-testid={`preview-${a.name}`} title="Opens the participant's page as this arm (not recorded as data)">
            {a.name}
          </button>
        ))}
      </div>
      <label class="small">
        <input type="checkbox" checked={pilot} onChange={(e) => setPilot((e.target as HTMLInputElement).checked)} data-testid="include-pilot" /> Include pilot (simulated) participants in counts and exports
      </label>
      <ProgressTable study={study} progress={progress} />
      <ParticipantsList id={id} tick={progress ? Date.parse(String(progress.updated_at ?? "")) || 0 : 0} />
      {error && (
        <div class="inline-error small" role="alert">
          {error}
        </div>
      )}
      <div class="exports" data-testid="study-exports">
        {EXPORT_TABLES.map((t) => (
          <span class="group" key={t}>
            <span class="small">{t}:</span>
            {EXPORT_FORMATS.map((f) => (
              <ApiLink key={f} class="btn small" href={`${api}/export/${t}?format=${f}${pilot ? "&include_pilot=true" : ""}`} filename={`${id}-${t}.${f}`} data-testid={`export-${t}-${f}`}>
                <Icon name="download" size={12} /> {f.toUpperCase()}
              </ApiLink>
            ))}
          </span>
        ))}
        <ApiLink class="btn small" href={`${api}/codebook`} filename={`${id}-codebook.json`} data-testid="export-codebook">
          <Icon name="download" size={12} /> Codebook
        </ApiLink>
        <ApiLink class="btn small" href={`${api}/definition?format=yaml`} filename={`${id}.yaml`} data-testid="export-definition">
          <Icon name="download" size={12} /> Definition (YAML)
        </ApiLink>
        <ApiLink class="btn small" href={`${api}/definition?format=json`} filename={`${id}.json`}>
          <Icon name="download" size={12} /> JSON
        </ApiLink>
      </div>
    </section>
  );
}

export function Studies() {
  const [list, setList] = useState<StudyOut[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<StudyOut | null>(null);

  useEffect(() => {
    researcher
      .list()
      .then(setList)
      .catch((err) => setError((err as Error).message));
  }, []);

  const saved = (s: StudyOut) => {
    setList([s, ...(list ?? []).filter((x) => x.id !== s.id)]);
    setEditing(null);
  };

  return (
    <div class="page experiments study-admin" data-testid="studies">
      <h1>Studies</h1>
      <p class="muted">
        A study sends participants from a recruitment link through consent, questionnaires and a chat task under a balanced arm, and ends with a completion code. Progress below updates live.
      </p>
      {error && (
        <div class="inline-error" role="alert">
          {error}
        </div>
      )}
      {list?.map((s) => <StudyCard key={s.id} initial={s} onEdit={(x) => (setEditing(x), requestAnimationFrame(() => document.querySelector("[data-testid=study-form]")?.scrollIntoView()))} />)}
      {list && !list.length && <p class="muted">No studies yet: create the first one below.</p>}
      <DefinitionForm editing={editing} onSaved={saved} onCancel={() => setEditing(null)} />
    </div>
  );
}
