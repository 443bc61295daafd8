"""Helpers shared by tests (test modules import from here, never from each other; pytest
fixtures live in the conftest.py files):

- fake_servers/: the one fake-server framework, real HTTP servers on 127.0.0.1 speaking
  vendors' wire formats (LLM vendors, remote embeddings/rerank); `fixtures.py` is the pytest
  plugin with a session-wide server per vendor (`fake_openai`, `fake_anthropic`, ...).
- settings.py: settings of an app a test builds itself (SQLite in a directory).
- uvicorn_server.py: a real uvicorn server in a thread; processes.py: `llm-platform serve`
  as a real process; cli.py: the CLI in-process against a test's database.
- errors.py: the one error body; events.py: sessions and UI events as the API takes them.
- query.py: queries (bodies, SSE parsing, the scripted model, a live server);
  legacy_client.py: the original Next.js client's view of the legacy routes.
- providers.py: driving a provider adapter (ask, drain, answer text, event kinds).
- files.py: upload a file and wait for its ingestion; documents.py: PDF, DOCX, PNG, ZIP
  files built in the test.
- fuzzing.py: schemathesis against a live server; browser.py: the web UI in Chromium.
- system.py: tests needing Debian packages (skipped off CI, failures on CI).

Moved here (issue 12): tests/providers/fakes/ and tests/rag/fake_servers.py -> fake_servers/,
tests/providers/helpers.py -> providers.py, tests/api/query_helpers.py -> query.py,
tests/api/compat/legacy_client.py -> legacy_client.py, tests/rag/fixtures.py -> documents.py,
tests/system.py -> system.py, tests/live_server.py -> uvicorn_server.py; from test modules:
assert_error -> errors.py, ev/start -> events.py, cli_env/run -> cli.py, cli_path/clean_env/
free_port/serve -> processes.py, upload/wait_done -> files.py, the fuzzing server ->
fuzzing.py, LiveServer/serve_platform/sign_in/ask/last_answer/pick_model/session_of ->
browser.py; the `embedder` and `database` fixtures -> tests/conftest.py.
"""
