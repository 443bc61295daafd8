"""Local HTTP servers (real sockets on 127.0.0.1) speaking the OpenAI embeddings and the
Cohere v2 rerank wire formats, as documented by the vendors."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def fake_embedding(text: str, dim: int) -> list[float]:
    """Deterministic pseudo-embedding: bag of hashed words."""
    vec = [0.0] * dim
    for word in text.lower().split():
        h = int(hashlib.sha256(word.encode()).hexdigest(), 16)
        vec[h % dim] += 1.0
    return vec


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        payload = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append((self.path, dict(self.headers), payload))
        auth = self.headers.get("Authorization", "")
        if auth != f"Bearer {self.server.key}":
            self._send(
                401, {"error": {"message": "Incorrect API key", "type": "invalid_request_error"}}
            )
            return
        if self.path == "/v1/embeddings":
            inputs = payload["input"]
            inputs = [inputs] if isinstance(inputs, str) else inputs
            data = [
                {"object": "embedding", "index": i, "embedding": fake_embedding(t, self.server.dim)}
                for i, t in enumerate(inputs)
            ]
            self._send(
                200,
                {
                    "object": "list",
                    "data": list(reversed(data)),  # order by `index`, not position
                    "model": payload["model"],
                    "usage": {"prompt_tokens": 3, "total_tokens": 3},
                },
            )
        elif self.path == "/v2/rerank":
            query = set(payload["query"].lower().split())
            docs = payload["documents"]
            scored = sorted(
                (
                    (len(query & set(d.lower().split())) / (len(query) or 1), i)
                    for i, d in enumerate(docs)
                ),
                reverse=True,
            )[: payload.get("top_n", len(docs))]
            self._send(
                200,
                {
                    "id": "r-1",
                    "results": [{"index": i, "relevance_score": s} for s, i in scored],
                    "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
                },
            )
        else:
            self._send(404, {"message": "not found"})


@contextmanager
def fake_api(key: str = "test-key", dim: int = 1536) -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.key = key  # type: ignore[attr-defined]
    server.dim = dim  # type: ignore[attr-defined]
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
