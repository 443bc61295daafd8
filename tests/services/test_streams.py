from __future__ import annotations

import asyncio
import uuid

from redis.asyncio import Redis

from llm_platform.services.streams.frames import Frame
from llm_platform.services.streams.manager import StreamManager
from llm_platform.services.streams.redis_store import RedisStreamStore
from llm_platform.services.streams.store import MemoryStreamStore, StreamStore
from llm_platform.services.thoughts import ThoughtTracker


async def collect(store: StreamStore, stream_id: str, after: int) -> list[Frame | None]:
    out: list[Frame | None] = []
    async for item in store.subscribe(stream_id, after, heartbeat=0.05):
        out.append(item)
    return out


async def test_memory_replay_after_id_then_live_then_end() -> None:
    store = MemoryStreamStore(retention=1)
    store.create("s")
    for i in range(3):
        await store.append("s", {"type": "token", "content": str(i)})
    reader = asyncio.create_task(collect(store, "s", 1))
    await asyncio.sleep(0.12)  # long enough for a heartbeat
    await store.append("s", {"type": "done"})
    items = await reader
    frames = [i for i in items if i is not None]
    assert [f.id for f in frames] == [2, 3, 4]
    assert None in items  # heartbeat while silent
    assert frames[-1].terminal
    assert store.readers("s") == 0


async def test_memory_detach_window_and_sweep() -> None:
    store = MemoryStreamStore(retention=0.05)
    store.create("s")
    assert await store.detached_streams(["s"]) == set()
    await asyncio.sleep(0.08)
    assert await store.detached_streams(["s"]) == {"s"}
    await store.append("s", {"type": "done"})
    await asyncio.sleep(0.08)
    store.sweep()
    assert not await store.exists("s")


async def test_manager_cancels_detached_generation() -> None:
    store = MemoryStreamStore(retention=0.1)
    manager = StreamManager(store, watch_interval=0.02)
    await manager.start()
    try:
        task = manager.launch("s", asyncio.sleep(10))
        await asyncio.sleep(0.3)
        assert task.cancelled()
    finally:
        await manager.close()


async def test_redis_store_serves_another_instance_and_cancels_across(redis_url: str) -> None:
    a_redis, b_redis = Redis.from_url(redis_url), Redis.from_url(redis_url)
    a = RedisStreamStore(a_redis, retention=1)
    b = RedisStreamStore(b_redis, retention=1)
    manager_a, manager_b = StreamManager(a), StreamManager(b)
    await manager_a.start()
    await manager_b.start()
    sid = uuid.uuid4().hex
    try:
        started = asyncio.Event()

        async def work() -> None:
            await a.append(sid, {"type": "start"})
            await a.append(sid, {"type": "token", "content": "x"})
            started.set()
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                await a.append(sid, {"type": "done", "status": "cancelled"})

        task = manager_a.launch(sid, work())
        await started.wait()
        assert await b.exists(sid)
        reader = asyncio.create_task(collect(b, sid, 1))
        await asyncio.sleep(0.05)
        t0 = asyncio.get_running_loop().time()
        assert await manager_b.cancel(sid)  # B does not run it: pub/sub to A
        await asyncio.wait_for(task, 1)
        assert asyncio.get_running_loop().time() - t0 < 1
        frames = [f for f in await asyncio.wait_for(reader, 2) if f is not None]
        assert [f.type for f in frames] == ["token", "done"]
        assert [f.id for f in frames] == [2, 3]
        assert not await b.exists(uuid.uuid4().hex)
    finally:
        await manager_a.close()
        await manager_b.close()
        await a_redis.aclose()
        await b_redis.aclose()


def test_thought_steps_split_on_paragraphs() -> None:
    tracker = ThoughtTracker()
    tracker.add("First ", now=0.0)
    tracker.add("idea.\n\nSecond", now=0.1)
    tracker.add(" idea.", now=0.2)
    tracker.end(now=0.5)
    cot = tracker.result(7)
    assert cot is not None
    assert [s.description for s in cot.steps] == ["First idea.", "Second idea."]
    assert [s.duration_ms for s in cot.steps] == [100.0, 400.0]
    assert cot.total_thinking_time_ms == 500.0 and cot.reasoning_tokens == 7
