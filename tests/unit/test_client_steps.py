"""server/realtime/client_steps.py: each client's steps run in order by one worker, which parks
after events, ends after a connect, ends when parked through two sweeps or when its
session ends, and reports a step's completion through ``settled``."""

from __future__ import annotations

import asyncio

import pytest
from openline.realtime import client_steps
from openline.realtime.client_steps import ClientSteps


@pytest.fixture
def fast_sweeps(monkeypatch):
    monkeypatch.setattr(client_steps, "SWEEP_INTERVAL", 0.01)


async def _record(log: list[str], text: str, pause: float = 0) -> None:
    if pause:
        await asyncio.sleep(pause)
    log.append(text)


async def test_one_clients_steps_run_in_order_others_concurrently():
    """A slow step delays only its own client's later steps."""
    steps, log = ClientSteps(None), []
    steps.add("a", _record, (log, "a1", 0.05))
    steps.add("a", _record, (log, "a2"))
    steps.add("b", _record, (log, "b1"))
    settled = asyncio.get_running_loop().create_future()
    steps.add("a", _record, (log, "a3"), settled=settled)
    await asyncio.wait_for(settled, 5)
    assert log == ["b1", "a1", "a2", "a3"]


async def test_worker_parks_after_an_event_and_is_reused():
    """After an event the same worker task takes the client's next step."""
    steps, log = ClientSteps(None), []
    steps.add("a", _record, (log, "e1"), linger=True)
    worker = steps.clients["a"].task
    while steps.clients["a"].wake is None:
        await asyncio.sleep(0)
    settled = asyncio.get_running_loop().create_future()
    steps.add("a", _record, (log, "e2"), linger=True, settled=settled)
    await asyncio.wait_for(settled, 5)
    assert steps.clients["a"].task is worker
    assert log == ["e1", "e2"]
    steps.end("a")
    await asyncio.wait_for(worker, 5)


async def test_worker_ends_after_a_connect_step():
    """A step that is not an event leaves no task behind once it has run."""
    steps, log = ClientSteps(None), []
    steps.add("a", _record, (log, "connect"))
    worker = steps.clients["a"].task
    await asyncio.wait_for(worker, 5)
    assert log == ["connect"] and "a" not in steps.clients


async def test_parked_worker_ends_after_two_sweeps(fast_sweeps):
    """An idle parked worker ends by itself; the client's next event gets a new one."""
    steps, log = ClientSteps(None), []
    steps.add("a", _record, (log, "e1"), linger=True)
    worker = steps.clients["a"].task
    await asyncio.wait_for(worker, 5)
    assert "a" not in steps.clients and not steps.parked and steps.sweeper is None
    settled = asyncio.get_running_loop().create_future()
    steps.add("a", _record, (log, "e2"), linger=True, settled=settled)
    await asyncio.wait_for(settled, 5)
    assert log == ["e1", "e2"] and steps.clients["a"].task is not worker
    steps.end("a")


async def test_end_drops_waiting_events_runs_other_steps_then_stops():
    """When the session ends, its waiting events are dropped, other steps still run, and
    the worker ends."""
    steps, log = ClientSteps(None), []
    steps.add("a", _record, (log, "e1", 0.02), linger=True)
    steps.add("a", _record, (log, "connect"))
    steps.add("a", _record, (log, "e2"), linger=True)
    worker = steps.clients["a"].task
    steps.end("a")
    await asyncio.wait_for(worker, 5)
    assert log == ["connect"] and "a" not in steps.clients


async def test_more_events_than_max_queued_floods_once_and_drops_the_rest():
    """One event past max_queued drops the waiting ones, calls on_flood once, and the
    client's later events are dropped (other steps still run) until end()."""
    flooded: list[str] = []
    steps, log = ClientSteps(None, max_queued=3, on_flood=flooded.append), []
    for n in range(10):
        steps.add("a", _record, (log, f"e{n}"), linger=True)
    steps.add("a", _record, (log, "connect"))
    steps.add("b", _record, (log, "b1"), linger=True)
    worker = steps.clients["a"].task
    while steps.clients["a"].wake is None:  # ran what it kept, then parked
        await asyncio.sleep(0)
    assert flooded == ["a"] and log == ["connect", "b1"]
    steps.add("a", _record, (log, "later"), linger=True)
    steps.end("a")
    await asyncio.wait_for(worker, 5)
    assert log == ["connect", "b1"] and not steps.flooded


async def test_a_failing_step_does_not_stop_the_next(caplog):
    """An exception in one step is logged and the following step still runs."""
    steps, log = ClientSteps(None), []

    async def boom() -> None:
        raise RuntimeError("boom")

    steps.add("a", boom, ())
    settled = asyncio.get_running_loop().create_future()
    steps.add("a", _record, (log, "after"), settled=settled)
    await asyncio.wait_for(settled, 5)
    assert log == ["after"]
    assert "session a: step boom failed" in caplog.text


async def test_cancelled_worker_settles_queued_steps():
    """Cancelling a worker settles the futures of steps it never ran."""
    steps = ClientSteps(None)
    steps.add("a", asyncio.sleep, (10,))
    settled = asyncio.get_running_loop().create_future()
    steps.add("a", asyncio.sleep, (0,), settled=settled)
    worker = steps.clients["a"].task
    await asyncio.sleep(0.01)
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker
    assert settled.done() and "a" not in steps.clients


async def test_room_is_none_below_the_bound_and_a_future_at_it():
    """At max_queued events waiting, room() gives a future settled once half have run."""
    steps, log = ClientSteps(None, max_queued=4), []
    assert steps.room("a") is None
    for n in range(4):
        steps.add("a", _record, (log, f"e{n}", 0.01), linger=True)
    assert steps.full("a")
    room = steps.room("a")
    assert room is not None and steps.room("a") is room
    await asyncio.wait_for(room, 5)
    assert len(log) >= 1 and len(steps.clients["a"].steps) <= 2
    assert steps.room("a") is None


async def test_room_counts_frame_bytes_too():
    """Events of max_bytes frame bytes in all make the client full, however few."""
    steps, log = ClientSteps(None, max_queued=100, max_bytes=1000), []
    steps.add("a", _record, (log, "big", 0.01), linger=True, size=600)
    steps.add("a", _record, (log, "big2", 0.01), linger=True, size=600)
    assert steps.full("a")
    room = steps.room("a")
    assert room is not None
    await asyncio.wait_for(room, 5)
    assert steps.clients["a"].size <= 500


async def test_end_settles_a_waiting_room():
    """A client that ends while its reader waits for room releases the reader."""
    steps, log = ClientSteps(None, max_queued=1), []
    steps.add("a", _record, (log, "slow", 0.5), linger=True)
    steps.add("a", _record, (log, "next"), linger=True)
    room = steps.room("a")
    assert room is not None
    steps.end("a")
    await asyncio.wait_for(room, 1)


async def _gated(log: list[str], text: str, gate: asyncio.Future[None] | None = None) -> None:
    log.append(text + " started")
    if gate is not None:
        await gate
    log.append(text + " done")


async def test_overlap_starts_events_in_order_and_lets_later_ones_finish_first():
    """overlap 3: a client's second and third events run while its first one waits."""
    loop = asyncio.get_running_loop()
    steps, log, gate = ClientSteps(None, overlap=3), [], loop.create_future()
    steps.add("a", _gated, (log, "e1", gate), linger=True)
    steps.add("a", _gated, (log, "e2"), linger=True)
    third = loop.create_future()
    steps.add("a", _gated, (log, "e3"), linger=True, settled=third)
    await asyncio.wait_for(third, 5)
    assert log == ["e1 started", "e2 started", "e2 done", "e3 started", "e3 done"]
    gate.set_result(None)
    while len(log) < 6:
        await asyncio.sleep(0)
    assert log[5] == "e1 done"
    for _ in range(5):  # its task's done callback
        await asyncio.sleep(0)
    assert steps.clients["a"].running == set()
    steps.end("a")


async def test_overlap_bounds_the_events_running_at_once():
    """overlap 2: a third event starts only once one of the two running has finished."""
    loop = asyncio.get_running_loop()
    steps, log = ClientSteps(None, overlap=2), []
    gates = [loop.create_future() for _ in range(3)]
    last = loop.create_future()
    for n, gate in enumerate(gates, 1):
        steps.add("a", _gated, (log, f"e{n}", gate), linger=True, settled=last if n == 3 else None)
    for _ in range(20):
        await asyncio.sleep(0)
    assert log == ["e1 started", "e2 started"]
    gates[1].set_result(None)
    for _ in range(20):
        await asyncio.sleep(0)
    assert log == ["e1 started", "e2 started", "e2 done", "e3 started"]
    gates[0].set_result(None)
    gates[2].set_result(None)
    await asyncio.wait_for(last, 5)
    assert sorted(log[4:]) == ["e1 done", "e3 done"]


async def test_overlap_runs_a_disconnect_after_the_events_before_it():
    """overlap 4: a step that is not an event (a disconnect) waits for every running event."""
    loop = asyncio.get_running_loop()
    steps, log, gate = ClientSteps(None, overlap=4), [], loop.create_future()
    steps.add("a", _gated, (log, "e1", gate), linger=True)
    steps.add("a", _gated, (log, "e2"), linger=True)
    done = loop.create_future()
    steps.add("a", _gated, (log, "disconnect"), settled=done)
    steps.add("a", _gated, (log, "e3"), linger=True)
    for _ in range(20):
        await asyncio.sleep(0)
    assert log == ["e1 started", "e2 started", "e2 done"]
    gate.set_result(None)
    await asyncio.wait_for(done, 5)
    assert log[3:6] == ["e1 done", "disconnect started", "disconnect done"]


async def test_overlap_worker_outlives_its_running_events_and_logs_their_failures(caplog, fast_sweeps):
    """overlap 2: a failing event is logged and the next still runs; the worker ends only
    once no event of its client runs."""
    loop = asyncio.get_running_loop()
    steps, log, gate = ClientSteps(None, overlap=2), [], loop.create_future()

    async def fails() -> None:
        raise RuntimeError("boom")

    steps.add("a", _gated, (log, "e1", gate), linger=True)
    steps.add("a", fails, (), linger=True)
    worker = steps.clients["a"].task
    for _ in range(50):
        await asyncio.sleep(0.01)  # five sweeps: a worker parked with nothing running would end
    assert not worker.done() and log == ["e1 started"]
    assert "step fails failed" in caplog.text and "RuntimeError: boom" in caplog.text
    gate.set_result(None)
    await asyncio.wait_for(worker, 5)
    assert log == ["e1 started", "e1 done"] and "a" not in steps.clients
