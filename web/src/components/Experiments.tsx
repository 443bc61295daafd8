import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { fmtCost, fmtDate, fmtInt, fmtTokens } from "../format";
import { modelKey, modelsStore } from "../models";
import type { Experiment, ExperimentStats, Variant } from "../types";
import { ApiLink } from "./ApiLink";
import { CopyButton } from "./CopyButton";
import { Icon } from "./Icon";

interface ArmDraft {
  name: string;
  weight: string;
  model: string; // "provider:model" or "" (participant's choice / server default)
  temperature: string;
  system_prompt: string;
}

const emptyArm = (name: string): ArmDraft => ({ name, weight: "1", model: "", temperature: "", system_prompt: "" });

function toVariant(a: ArmDraft): Variant {
  const settings: Variant["settings"] = {};
  if (a.model) {
    const i = a.model.indexOf(":");
    settings.provider = a.model.slice(0, i);
    settings.model = a.model.slice(i + 1);
  }
  if (a.temperature.trim() !== "") settings.temperature = Number(a.temperature);
  if (a.system_prompt.trim()) settings.system_prompt = a.system_prompt;
  return { name: a.name.trim(), weight: Number(a.weight) || 1, settings };
}

function participantLink(id: string): string {
  return `${location.origin}/?experiment=${encodeURIComponent(id)}`;
}

function CreateForm({ onCreated }: { onCreated: (e: Experiment) => void }) {
  const [name, setName] = useState("");
  const [id, setId] = useState("");
  const [description, setDescription] = useState("");
  const [arms, setArms] = useState<ArmDraft[]>([emptyArm("A"), emptyArm("B")]);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  const setArm = (i: number, patch: Partial<ArmDraft>) => setArms(arms.map((a, j) => (j === i ? { ...a, ...patch } : a)));

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setSaving(true);
    try {
      const body: Record<string, unknown> = { name: name.trim(), variants: arms.map(toVariant) };
      if (id.trim()) body.id = id.trim();
      if (description.trim()) body.description = description.trim();
      const created = await api.post<Experiment>("/api/v1/experiments", body);
      onCreated(created);
      setName("");
      setId("");
      setDescription("");
      setArms([emptyArm("A"), emptyArm("B")]);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setSaving(false);
    }
  };

  return (
    <form class="panel exp-form" onSubmit={submit} data-testid="experiment-form">
      <h2>New experiment</h2>
      <div class="form-row">
        <label>
          Name <input required maxLength={256} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} data-testid="exp-name" />
        </label>
        <label>
          Id (optional){" "}
          <input pattern="[A-Za-z0-9._:@\-]{1,128}" value={id} placeholder="generated" onInput={(e) => setId((e.target as HTMLInputElement).value)} data-testid="exp-id" />
        </label>
      </div>
      <label class="block">
        Description <textarea rows={2} value={description} onInput={(e) => setDescription((e.target as HTMLTextAreaElement).value)} />
      </label>
      <h3>Arms</h3>
      <div class="arms">
        {arms.map((a, i) => (
          <fieldset class="arm" key={i} data-testid="arm">
            <legend>Arm {i + 1}</legend>
            <div class="form-row">
              <label>
                Name <input required pattern="[A-Za-z0-9._:@\-]{1,128}" value={a.name} onInput={(e) => setArm(i, { name: (e.target as HTMLInputElement).value })} data-testid="arm-name" />
              </label>
              <label>
                Weight <input type="number" min="0.01" step="any" required value={a.weight} onInput={(e) => setArm(i, { weight: (e.target as HTMLInputElement).value })} data-testid="arm-weight" />
              </label>
              <label>
                Temperature <input type="number" min="0" max="2" step="0.1" value={a.temperature} placeholder="default" onInput={(e) => setArm(i, { temperature: (e.target as HTMLInputElement).value })} data-testid="arm-temperature" />
              </label>
            </div>
            <label class="block">
              Model
              <select value={a.model} onChange={(e) => setArm(i, { model: (e.target as HTMLSelectElement).value })} data-testid="arm-model">
                <option value="">Server default</option>
                {modelsStore.models.map((m) => (
                  <option key={modelKey(m)} value={modelKey(m)}>
                    {modelKey(m)}
                  </option>
                ))}
              </select>
            </label>
            <label class="block">
              System prompt
              <textarea rows={3} value={a.system_prompt} onInput={(e) => setArm(i, { system_prompt: (e.target as HTMLTextAreaElement).value })} data-testid="arm-prompt" />
            </label>
            {arms.length > 1 && (
              <button type="button" class="btn small ghost" onClick={() => setArms(arms.filter((_, j) => j !== i))}>
                Remove arm
              </button>
            )}
          </fieldset>
        ))}
      </div>
      <div class="form-actions">
        <button type="button" class="btn" onClick={() => setArms([...arms, emptyArm(String.fromCharCode(65 + arms.length))])}>
          + Add arm
        </button>
        <span class="spacer" />
        <button type="submit" class="btn primary" disabled={saving} data-testid="exp-create">
          Create experiment
        </button>
      </div>
      {error && (
        <div class="inline-error" role="alert">
          {error}
        </div>
      )}
    </form>
  );
}

function ExperimentCard({ exp, active }: { exp: Experiment; active: boolean }) {
  const [stats, setStats] = useState<ExperimentStats | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!active) return;
    let stop = false;
    let timer = 0;
    const tick = async () => {
      try {
        const s = await api.get<ExperimentStats>(`/api/v1/experiments/${encodeURIComponent(exp.id)}/stats`);
        if (!stop) setStats(s);
        setError(null);
      } catch (err) {
        if (!stop) setError((err as Error).message);
      }
      if (!stop) timer = window.setTimeout(tick, document.visibilityState === "visible" ? 3000 : 15000);
    };
    void tick();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [exp.id, active]);

  const link = participantLink(exp.id);
  const totalWeight = exp.variants.reduce((s, v) => s + v.weight, 0) || 1;
  return (
    <section class="panel exp-card" data-testid="experiment" data-experiment-id={exp.id}>
      <div class="panel-head">
        <h2>{exp.name}</h2>
        <span class="muted small">
          {exp.id} · created {fmtDate(exp.created_at)}
        </span>
      </div>
      {exp.description && <p>{exp.description}</p>}
      <div class="participant-link">
        <label class="block">
          Participant link
          <input readOnly value={link} onFocus={(e) => (e.target as HTMLInputElement).select()} data-testid="participant-link" />
        </label>
        <CopyButton text={link} track="copy-participant-link" />
      </div>
      <div class="table-wrap">
        <table class="table" data-testid="arm-stats">
          <thead>
            <tr>
              <th>Arm</th>
              <th>Share</th>
              <th>Model</th>
              <th class="num">Sessions</th>
              <th class="num">Participants</th>
              <th class="num">Queries</th>
              <th class="num">Events</th>
              <th class="num">Tokens</th>
              <th class="num">Cost</th>
            </tr>
          </thead>
          <tbody>
            {(stats?.arms ?? exp.variants.map((v) => ({ variant: v.name, sessions: 0, participants: 0, queries: 0, events: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0 }))).map((a) => {
              const v = exp.variants.find((x) => x.name === a.variant);
              return (
                <tr key={a.variant ?? "-"} data-arm={a.variant ?? ""}>
                  <td>{a.variant ?? <span class="muted">unassigned</span>}</td>
                  <td>{v ? `${Math.round((v.weight / totalWeight) * 100)}%` : "–"}</td>
                  <td class="small">
                    {v?.settings?.model ? `${v.settings.provider ?? ""}:${v.settings.model}` : "default"}
                    {v?.settings?.temperature != null ? ` · t=${v.settings.temperature}` : ""}
                  </td>
                  <td class="num" data-col="sessions">{fmtInt(a.sessions)}</td>
                  <td class="num">{fmtInt(a.participants)}</td>
                  <td class="num" data-col="queries">{fmtInt(a.queries)}</td>
                  <td class="num" data-col="events">{fmtInt(a.events)}</td>
                  <td class="num">{fmtTokens(a.input_tokens + a.output_tokens)}</td>
                  <td class="num">{fmtCost(a.cost_usd)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {error && <div class="inline-error small">{error}</div>}
      <div class="form-actions">
        <ApiLink class="btn small" href={`/api/v1/experiments/${encodeURIComponent(exp.id)}/export?format=jsonl`} filename={`experiment-${exp.id}.jsonl`} data-track="export-jsonl" data-testid="export-jsonl">
          <Icon name="download" size={14} /> Export JSONL
        </ApiLink>
        <ApiLink class="btn small" href={`/api/v1/experiments/${encodeURIComponent(exp.id)}/export?format=csv`} filename={`experiment-${exp.id}.csv`} data-track="export-csv" data-testid="export-csv">
          <Icon name="download" size={14} /> Export CSV
        </ApiLink>
      </div>
    </section>
  );
}

export function Experiments() {
  const [list, setList] = useState<Experiment[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!modelsStore.loaded) void modelsStore.load();
    api
      .get<Experiment[]>("/api/v1/experiments")
      .then(setList)
      .catch((err) => setError((err as Error).message));
  }, []);
  return (
    <div class="page experiments" data-testid="experiments">
      <h1>Experiments</h1>
      <p class="muted">
        Each participant who opens an experiment's link is assigned an arm (by weight, the same arm every time) whose system prompt, model and temperature apply to their chats. Their sessions, model calls and
        interactions are recorded for export.
      </p>
      {error && (
        <div class="inline-error" role="alert">
          {error}
        </div>
      )}
      {list?.map((e, i) => <ExperimentCard key={e.id} exp={e} active={i < 5} />)}
      {list && !list.length && <p class="muted">No experiments yet: create the first one below.</p>}
      <CreateForm onCreated={(e) => setList([e, ...(list ?? [])])} />
    </div>
  );
}
