import { useEffect, useState } from "preact/hooks";
import { api, qs } from "../api";
import { fmtCost, fmtDate, fmtInt, fmtMs, fmtTokens } from "../format";
import { navigate } from "../router";
import type { Page, QueryLog, TokenAnalytics, TokenGroup } from "../types";
import { ApiLink } from "./ApiLink";
import { DailyColumns, Histogram, type Series, StackedBars } from "./charts";

const TOKEN_SERIES: Series[] = [
  { key: "input", label: "input", cls: "c1" },
  { key: "output", label: "output", cls: "c2" },
  { key: "reasoning", label: "reasoning", cls: "c3" },
];

const tokenRow = (g: TokenGroup) => ({
  key: g.key,
  values: { input: g.input_tokens, output: Math.max(0, g.output_tokens - (g.reasoning_tokens || 0)), reasoning: g.reasoning_tokens || 0 },
});

const CSV_COLUMNS: (keyof QueryLog)[] = ["created_at", "id", "session_id", "experiment_id", "variant", "provider", "model", "status", "input_tokens", "output_tokens", "reasoning_tokens", "cached_tokens", "cost_usd", "latency_ms", "ttft_ms", "error"];

function toCsv(rows: QueryLog[]): string {
  const cell = (v: unknown) => {
    const s = v == null ? "" : String(v);
    // Quote, and defuse spreadsheet formulas.
    const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
    return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  return [CSV_COLUMNS.join(","), ...rows.map((r) => CSV_COLUMNS.map((c) => cell(r[c])).join(","))].join("\r\n") + "\r\n";
}

export function Dashboard() {
  const [byProvider, setByProvider] = useState<TokenAnalytics | null>(null);
  const [byModel, setByModel] = useState<TokenAnalytics | null>(null);
  const [byDay, setByDay] = useState<TokenAnalytics | null>(null);
  const [rows, setRows] = useState<QueryLog[]>([]);
  const [filters, setFilters] = useState({ session_id: "", experiment_id: "" });
  const [error, setError] = useState<string | null>(null);
  const [csvUrl, setCsvUrl] = useState<string | null>(null);

  const loadTotals = async () => {
    try {
      const [p, m, d] = await Promise.all(
        (["provider", "model", "day"] as const).map((g) => api.get<TokenAnalytics>(`/api/v1/analytics/tokens${qs({ group_by: g })}`)),
      );
      setByProvider(p);
      setByModel(m);
      setByDay(d);
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const loadRows = async () => {
    try {
      const page = await api.get<Page<QueryLog>>(`/api/v1/queries${qs({ limit: 500, session_id: filters.session_id.trim(), experiment_id: filters.experiment_id.trim() })}`);
      setRows(page.items);
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  };

  useEffect(() => {
    void loadTotals();
  }, []);
  useEffect(() => {
    void loadRows();
  }, [filters]);
  useEffect(() => {
    const url = URL.createObjectURL(new Blob([toCsv(rows)], { type: "text/csv" }));
    setCsvUrl(url);
    return () => URL.revokeObjectURL(url);
  }, [rows]);

  const totals = byProvider?.totals;
  const days = (byDay?.groups ?? []).slice().sort((a, b) => a.key.localeCompare(b.key)).slice(-30);
  const latencies = rows.map((r) => r.latency_ms).filter((v): v is number => v != null);
  const ttfts = rows.map((r) => r.ttft_ms).filter((v): v is number => v != null);
  const expFilter = filters.experiment_id.trim();
  const sesFilter = filters.session_id.trim();

  return (
    <div class="page dashboard" data-testid="dashboard">
      <h1>Usage</h1>
      {error && (
        <div class="inline-error" role="alert">
          {error}
        </div>
      )}
      <div class="cards">
        <div class="card">
          <span class="card-label">Queries</span>
          <span class="card-value" data-testid="total-queries">{fmtInt(totals?.queries)}</span>
        </div>
        <div class="card">
          <span class="card-label">Tokens</span>
          <span class="card-value">{fmtTokens(totals?.total_tokens)}</span>
          <span class="muted small">{fmtTokens(totals?.reasoning_tokens)} reasoning</span>
        </div>
        <div class="card">
          <span class="card-label">Cost</span>
          <span class="card-value">{fmtCost(totals?.cost_usd ?? null)}</span>
          {totals?.unpriced_queries ? <span class="muted small">{totals.unpriced_queries} unpriced</span> : null}
        </div>
        <div class="card">
          <span class="card-label">Avg latency</span>
          <span class="card-value">{fmtMs(totals?.avg_latency_ms)}</span>
        </div>
        <div class="card">
          <span class="card-label">Avg first token</span>
          <span class="card-value">{fmtMs(totals?.avg_ttft_ms)}</span>
        </div>
      </div>

      <div class="grid-2">
        <section class="panel">
          <h2>Tokens by provider</h2>
          <StackedBars title="Tokens by provider" rows={(byProvider?.groups ?? []).map(tokenRow)} series={TOKEN_SERIES} label={fmtTokens} />
        </section>
        <section class="panel">
          <h2>Cost by provider</h2>
          <StackedBars
            title="Cost by provider"
            rows={(byProvider?.groups ?? []).map((g) => ({ key: g.key, values: { cost: g.cost_usd ?? 0 } }))}
            series={[{ key: "cost", label: "cost (USD)", cls: "c4" }]}
            label={fmtCost}
          />
        </section>
        <section class="panel">
          <h2>Tokens by model</h2>
          <StackedBars title="Tokens by model" rows={(byModel?.groups ?? []).map(tokenRow)} series={TOKEN_SERIES} label={fmtTokens} />
        </section>
        <section class="panel">
          <h2>Cost by model</h2>
          <StackedBars
            title="Cost by model"
            rows={(byModel?.groups ?? []).map((g) => ({ key: g.key, values: { cost: g.cost_usd ?? 0 } }))}
            series={[{ key: "cost", label: "cost (USD)", cls: "c4" }]}
            label={fmtCost}
            total={(r) => {
              const g = byModel?.groups.find((x) => x.key === r.key);
              return g?.cost_usd == null ? "unpriced" : fmtCost(g.cost_usd);
            }}
          />
        </section>
      </div>
      <section class="panel">
        <h2>Tokens per day</h2>
        <DailyColumns title="Tokens per day" days={days.map(tokenRow)} series={TOKEN_SERIES} />
      </section>
      <div class="grid-2">
        <section class="panel">
          <h2>Latency</h2>
          <Histogram title="Latency distribution" values={latencies} cls="c1" />
        </section>
        <section class="panel">
          <h2>Time to first token</h2>
          <Histogram title="Time to first token distribution" values={ttfts} cls="c2" />
        </section>
      </div>

      <section class="panel">
        <div class="panel-head">
          <h2>Recent queries</h2>
          <span class="spacer" />
          {csvUrl && (
            <a class="btn small" href={csvUrl} download="queries.csv" data-track="csv-download" data-testid="csv-download">
              Download CSV ({rows.length})
            </a>
          )}
          {expFilter && (
            <ApiLink class="btn small" href={`/api/v1/experiments/${encodeURIComponent(expFilter)}/export?format=csv`} filename={`experiment-${expFilter}.csv`} data-track="experiment-export">
              Experiment export (CSV)
            </ApiLink>
          )}
          {sesFilter && (
            <ApiLink class="btn small" href={`/api/v1/sessions/${encodeURIComponent(sesFilter)}/export?format=csv`} filename={`session-${sesFilter}.csv`} data-track="session-export">
              Session export (CSV)
            </ApiLink>
          )}
        </div>
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            const f = new FormData(e.currentTarget);
            setFilters({ session_id: String(f.get("session_id") ?? ""), experiment_id: String(f.get("experiment_id") ?? "") });
          }}
        >
          <label>
            Session <input name="session_id" defaultValue={filters.session_id} placeholder="any" data-testid="filter-session" />
          </label>
          <label>
            Experiment <input name="experiment_id" defaultValue={filters.experiment_id} placeholder="any" data-testid="filter-experiment" />
          </label>
          <button class="btn small" type="submit">
            Filter
          </button>
        </form>
        <div class="table-wrap">
          <table class="table" data-testid="queries-table">
            <thead>
              <tr>
                <th>Time</th>
                <th>Model</th>
                <th>Status</th>
                <th class="num">In</th>
                <th class="num">Out</th>
                <th class="num">Reasoning</th>
                <th class="num">Cost</th>
                <th class="num">Latency</th>
                <th class="num">TTFT</th>
                <th>Session</th>
                <th>Experiment</th>
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, 200).map((r) => (
                <tr key={r.id}>
                  <td>{fmtDate(r.created_at)}</td>
                  <td>
                    {r.provider}:{r.model}
                  </td>
                  <td>
                    <span class={`status status-${r.status}`}>{r.status}</span>
                  </td>
                  <td class="num">{fmtInt(r.input_tokens)}</td>
                  <td class="num">{fmtInt(r.output_tokens)}</td>
                  <td class="num">{fmtInt(r.reasoning_tokens)}</td>
                  <td class="num">{fmtCost(r.cost_usd)}</td>
                  <td class="num">{fmtMs(r.latency_ms)}</td>
                  <td class="num">{fmtMs(r.ttft_ms)}</td>
                  <td>
                    {r.session_id && (
                      <a
                        href={`/c/${encodeURIComponent(r.session_id)}`}
                        onClick={(e) => {
                          e.preventDefault();
                          navigate(`/c/${encodeURIComponent(r.session_id!)}`);
                        }}
                      >
                        {r.session_id.slice(0, 8)}
                      </a>
                    )}
                  </td>
                  <td>{r.experiment_id ? `${r.experiment_id}${r.variant ? ` / ${r.variant}` : ""}` : ""}</td>
                </tr>
              ))}
              {!rows.length && (
                <tr>
                  <td colSpan={11} class="muted">
                    No queries yet.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </section>
    </div>
  );
}
