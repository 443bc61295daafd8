// Charts drawn as SVG here: stacked horizontal bars, daily columns, histograms.
import { fmtMs, fmtTokens } from "../format";

export interface Series {
  key: string;
  label: string;
  cls: string; // colour class (CSS variables: light and dark)
}

export function Legend({ series }: { series: Series[] }) {
  return (
    <div class="legend">
      {series.map((s) => (
        <span key={s.key} class="legend-item">
          <svg width="10" height="10" aria-hidden="true">
            <rect width="10" height="10" rx="2" class={s.cls} />
          </svg>
          {s.label}
        </span>
      ))}
    </div>
  );
}

/** One row per group, segments stacked left to right; the right label is `total(row)`. */
export function StackedBars({
  rows,
  series,
  label,
  total,
  title,
}: {
  rows: { key: string; values: Record<string, number> }[];
  series: Series[];
  label: (v: number) => string;
  total?: (row: { key: string; values: Record<string, number> }) => string;
  title: string;
}) {
  const rowH = 26;
  const labelW = 170;
  const width = 640;
  const barW = width - labelW - 90;
  const max = Math.max(1, ...rows.map((r) => series.reduce((s, x) => s + (r.values[x.key] || 0), 0)));
  const height = Math.max(1, rows.length) * rowH + 8;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title} class="chart-svg">
        {rows.length === 0 && (
          <text x={width / 2} y={18} class="chart-empty" text-anchor="middle">
            No data yet
          </text>
        )}
        {rows.map((r, i) => {
          let x = labelW;
          const y = i * rowH + 4;
          const sum = series.reduce((s, k) => s + (r.values[k.key] || 0), 0);
          return (
            <g key={r.key}>
              <text x={labelW - 8} y={y + rowH / 2 + 1} class="chart-label" text-anchor="end" dominant-baseline="middle">
                {r.key.length > 24 ? `${r.key.slice(0, 23)}…` : r.key}
              </text>
              {series.map((s) => {
                const v = r.values[s.key] || 0;
                const w = (v / max) * barW;
                const rect = (
                  <rect key={s.key} x={x} y={y + 3} width={Math.max(0, w)} height={rowH - 8} class={s.cls} rx="2">
                    <title>{`${r.key} · ${s.label}: ${label(v)}`}</title>
                  </rect>
                );
                x += w;
                return rect;
              })}
              <text x={x + 6} y={y + rowH / 2 + 1} class="chart-value" dominant-baseline="middle">
                {total ? total(r) : label(sum)}
              </text>
            </g>
          );
        })}
      </svg>
      <Legend series={series} />
    </figure>
  );
}

/** Columns per day (stacked), with the value on top of each column. */
export function DailyColumns({ days, series, title }: { days: { key: string; values: Record<string, number> }[]; series: Series[]; title: string }) {
  const width = 1160;
  const height = 220;
  const pad = { l: 44, r: 8, t: 16, b: 28 };
  const innerW = width - pad.l - pad.r;
  const innerH = height - pad.t - pad.b;
  const max = Math.max(1, ...days.map((d) => series.reduce((s, x) => s + (d.values[x.key] || 0), 0)));
  const colW = days.length ? Math.min(48, innerW / days.length - 4) : 0;
  const step = days.length ? innerW / days.length : 0;
  const ticks = [0, 0.5, 1].map((f) => f * max);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title} class="chart-svg">
        {ticks.map((t) => {
          const y = pad.t + innerH - (t / max) * innerH;
          return (
            <g key={t}>
              <line x1={pad.l} x2={width - pad.r} y1={y} y2={y} class="grid" />
              <text x={pad.l - 6} y={y} class="chart-axis" text-anchor="end" dominant-baseline="middle">
                {fmtTokens(Math.round(t))}
              </text>
            </g>
          );
        })}
        {days.length === 0 && (
          <text x={width / 2} y={height / 2} class="chart-empty" text-anchor="middle">
            No data yet
          </text>
        )}
        {days.map((d, i) => {
          const x = pad.l + i * step + (step - colW) / 2;
          let y = pad.t + innerH;
          return (
            <g key={d.key}>
              {series.map((s) => {
                const h = ((d.values[s.key] || 0) / max) * innerH;
                y -= h;
                return (
                  <rect key={s.key} x={x} y={y} width={colW} height={Math.max(0, h)} class={s.cls}>
                    <title>{`${d.key} · ${s.label}: ${fmtTokens(d.values[s.key] || 0)}`}</title>
                  </rect>
                );
              })}
              <text x={x + colW / 2} y={height - 10} class="chart-axis" text-anchor="middle">
                {d.key.slice(5)}
              </text>
            </g>
          );
        })}
      </svg>
      <Legend series={series} />
    </figure>
  );
}

/** Distribution of durations (ms) in log-spaced bins, with p50 and p95 marked. */
export function Histogram({ values, title, cls }: { values: number[]; title: string; cls: string }) {
  const width = 640;
  const height = 170;
  const pad = { l: 36, r: 8, t: 14, b: 30 };
  const innerW = width - pad.l - pad.r;
  const innerH = height - pad.t - pad.b;
  const edges = [0, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 20000, Infinity];
  const counts = edges.slice(0, -1).map((lo, i) => values.filter((v) => v >= lo && v < edges[i + 1]).length);
  const max = Math.max(1, ...counts);
  const step = innerW / counts.length;
  const sorted = [...values].sort((a, b) => a - b);
  const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null);
  const p50 = pct(0.5);
  const p95 = pct(0.95);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title}: median ${fmtMs(p50)}, p95 ${fmtMs(p95)}`} class="chart-svg">
        <line x1={pad.l} x2={width - pad.r} y1={pad.t + innerH} y2={pad.t + innerH} class="grid" />
        <text x={pad.l - 6} y={pad.t} class="chart-axis" text-anchor="end" dominant-baseline="middle">
          {max}
        </text>
        {counts.map((c, i) => {
          const h = (c / max) * innerH;
          const x = pad.l + i * step + 2;
          return (
            <g key={i}>
              <rect x={x} y={pad.t + innerH - h} width={step - 4} height={h} class={cls} rx="2">
                <title>{`${fmtMs(edges[i])} – ${edges[i + 1] === Infinity ? "∞" : fmtMs(edges[i + 1])}: ${c}`}</title>
              </rect>
              {i % 2 === 0 && (
                <text x={x} y={height - 12} class="chart-axis">
                  {edges[i] >= 1000 ? `${edges[i] / 1000}s` : `${edges[i]}`}
                </text>
              )}
            </g>
          );
        })}
        {values.length === 0 && (
          <text x={width / 2} y={height / 2} class="chart-empty" text-anchor="middle">
            No data yet
          </text>
        )}
      </svg>
      <figcaption class="muted small">
        {values.length} queries · median {fmtMs(p50)} · p95 {fmtMs(p95)}
      </figcaption>
    </figure>
  );
}
