"""The one place that decides what a failure means for a stream.

Before the first event a failure is raised as a `ProviderError` (the caller may retry or
answer with a status); after it, the failure becomes the stream's last event, an
`ErrorEvent`. The inner generator is always closed explicitly (`aclosing`), so stopping
the consumer (aclose, cancellation) closes the vendor's HTTP response right away instead of
whenever the garbage collector gets to it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing

from llm_platform.providers.base import StreamEvent
from llm_platform.providers.error_mapping import error_event
from llm_platform.providers.errors import ProviderError

ErrorMapper = Callable[[BaseException], ProviderError]


async def guarded_stream(
    events: AsyncGenerator[StreamEvent, None], to_error: ErrorMapper
) -> AsyncIterator[StreamEvent]:
    started = False
    async with aclosing(events):
        try:
            async for event in events:
                started = True
                yield event
        except Exception as exc:
            error = exc if isinstance(exc, ProviderError) else to_error(exc)
            if not started:
                # `from None`: SDK exceptions can quote request details; ours are safe.
                raise error from None
            yield error_event(error)
