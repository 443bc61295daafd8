"""The OpenAI-style facade: `/v1/chat/completions` and `/v1/models` for OpenAI clients."""
