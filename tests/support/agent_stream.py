"""A scripted query stream inside the page, for the web UI's agent views: the page's fetch of
`/api/v1/query/stream` answers with the platform SSE frames given here, one at a time after
its delay (so a test sees them arrive live), and notes each request body in
`window.__streamBodies`; every other request goes to the server. The frames follow the
issue 13 contract (`agent`, `options`, `products`, `memory`)."""

from __future__ import annotations

import json
from typing import Any

Frame = tuple[int, dict[str, Any]]  # (delay in ms before it, the frame's JSON payload)

_SCRIPT = """
(() => {
  const turns = %s;
  const realFetch = window.fetch.bind(window);
  const enc = new TextEncoder();
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  window.__streamBodies = [];
  window.fetch = (input, init) => {
    const url = typeof input === "string" ? input : input.url;
    if (!url.includes("/api/v1/query/stream")) return realFetch(input, init);
    const body = JSON.parse((init && init.body) || "{}");
    const n = window.__streamBodies.push(body);
    const frames = turns[Math.min(n, turns.length) - 1];
    const stream = new ReadableStream({
      async start(c) {
        for (const [delay, payload] of frames) {
          await sleep(delay);
          c.enqueue(enc.encode("data: " + JSON.stringify(payload) + "\\n\\n"));
        }
        c.enqueue(enc.encode("data: [DONE]\\n\\n"));
        c.close();
      },
    });
    return Promise.resolve(new Response(stream, {
      status: 200,
      headers: { "Content-Type": "text/event-stream", "X-Stream-ID": "scripted-" + n },
    }));
  };
})();
"""


def agent(
    name: str, step: str, status: str, ms: float | None, summary: str, delay: int = 0
) -> Frame:
    return (
        delay,
        {
            "type": "agent",
            "agent": name,
            "step_id": step,
            "status": status,
            "duration_ms": ms,
            "summary": summary,
        },
    )


def tokens(text: str, delay: int = 40) -> list[Frame]:
    words = text.split(" ")
    pieces = [w + " " for w in words[:-1]] + words[-1:]
    return [(delay, {"type": "token", "content": piece}) for piece in pieces]


def done(query_id: str) -> Frame:
    meta = {"query_id": query_id, "status": "ok", "latency_ms": 900}
    return (0, {"type": "done", "metadata": meta})


def install(page: Any, turns: list[list[Frame]]) -> None:
    """Answer the page's query streams with `turns` (the n-th request gets the n-th turn)."""
    page.add_init_script(script=_SCRIPT % json.dumps([[list(f) for f in t] for t in turns]))


def stream_bodies(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate("window.__streamBodies"))
