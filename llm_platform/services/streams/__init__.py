"""Resumable streams: generations write frames to a per-stream buffer that readers replay.

Format-agnostic: frames are `{type, ...}` payloads; `formats` turns them into SSE, WebSocket
messages, OpenAI chunks (and, in the compatibility layer, the legacy client's format).
"""
