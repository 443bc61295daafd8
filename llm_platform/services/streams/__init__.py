"""Resumable streams: generations write frames to a per-stream buffer that readers replay.

Frames are typed (`frames.StreamFrame`) and stored as their platform payload; each wire format
is an encoder of them: `formats` (the platform's SSE and WebSocket messages),
`api/openai/stream.py` (OpenAI chunks), `api/legacy/stream.py` (the original client's lines).
"""
