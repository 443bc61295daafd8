"""The one fake-server framework: `FakeServer` (server.py), a real HTTP/1.1 server on
127.0.0.1 in its own thread, and the fakes built on it, each speaking a vendor's real wire
format: the LLM vendors (OpenAI and compatible servers, Anthropic, Gemini) and a remote
embedding/rerank service (embeddings_server.py: OpenAI embeddings, Cohere rerank).

Reusable by any test: start one (`with FakeOpenAI() as fake:` or `.start()` / `.stop()`),
point the platform's base-URL setting at `fake.base_url` and its key setting at the fake's
test key, then shape the answer through `fake.scenario` (reasoning and text pieces, usage,
delays, a mid-stream error, a held-open or dropped stream) or fail the next requests with
`fake.fail_next(status, retry_after=...)`. `fake.requests` records what the SDK sent and
`fake.client_disconnected` / `await fake.until_disconnected(1.0)` tell when a client
abandoned a stream.

    Settings(OPENAI_API_KEY=OPENAI_TEST_KEY, OPENAI_BASE_URL=fake.base_url)        # OpenAI
    Settings(ANTHROPIC_API_KEY=ANTHROPIC_TEST_KEY, ANTHROPIC_BASE_URL=fake.base_url)
    Settings(GOOGLE_API_KEY=GOOGLE_TEST_KEY, GOOGLE_GEMINI_BASE_URL=fake.base_url)
    Settings(DEEPSEEK_API_KEY=..., DEEPSEEK_BASE_URL=FakeOpenAI(flavor="deepseek").base_url)
    Settings(OPENROUTER_API_KEY=..., OPENROUTER_BASE_URL=FakeOpenAI(flavor="openrouter")...)
    Settings(OLLAMA_BASE_URL=FakeOpenAI(flavor="think", api_key=None).url)
"""

from tests.support.fake_servers.anthropic_server import ANTHROPIC_TEST_KEY, FakeAnthropic
from tests.support.fake_servers.embeddings_server import FakeEmbeddingsAPI, fake_api
from tests.support.fake_servers.gemini_server import GOOGLE_TEST_KEY, FakeGemini
from tests.support.fake_servers.openai_server import OPENAI_TEST_KEY, FakeOpenAI
from tests.support.fake_servers.scenario import Scenario
from tests.support.fake_servers.server import FakeServer, Reply, Request, sse

__all__ = [
    "ANTHROPIC_TEST_KEY",
    "GOOGLE_TEST_KEY",
    "OPENAI_TEST_KEY",
    "FakeAnthropic",
    "FakeEmbeddingsAPI",
    "FakeGemini",
    "FakeOpenAI",
    "FakeServer",
    "Reply",
    "Request",
    "Scenario",
    "fake_api",
    "sse",
]
