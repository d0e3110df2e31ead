import asyncio

import pytest

from tuxnet.core.loop import NSEC_PER_SEC, Loop, LoopIdle


def test_virtual_sleep_costs_no_wall_time_and_orders_by_time_then_insertion():
    loop = Loop()
    order = []
    for i in range(5):
        loop.call_at_ns(1000, order.append, i)
    loop.call_at_ns(500, order.append, "early")
    t = loop.call_at_ns(700, order.append, "cancelled")
    t.cancel()
    loop.run_until(2000)
    assert order == ["early", 0, 1, 2, 3, 4]
    assert loop.now_ns == 2000


def test_asyncio_programs_run_in_virtual_time():
    loop = Loop()
    seen = []

    async def worker(n):
        for _ in range(3):
            await asyncio.sleep(1.5)
            seen.append((n, loop.now_ns))
        return n

    async def main():
        r = await asyncio.gather(worker(1), worker(2))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(100), 2)
        async with asyncio.timeout(1):
            await asyncio.sleep(0.25)
        return r

    assert loop.run_until_complete(main()) == [1, 2]
    assert seen[-1] == (2, int(4.5 * NSEC_PER_SEC))
    assert loop.now_ns == int(6.75 * NSEC_PER_SEC)


def test_idle_loop_with_unfinished_work_raises():
    loop = Loop()

    async def forever():
        await loop.create_future()

    with pytest.raises(LoopIdle):
        loop.run_until_complete(forever())


def test_timeout_bounds_virtual_time():
    loop = Loop()
    with pytest.raises(TimeoutError):
        loop.run_until_complete(asyncio.sleep(10), timeout_ns=NSEC_PER_SEC)
    assert loop.now_ns == NSEC_PER_SEC


def test_realtime_mode_sleeps_real_time():
    import time

    loop = Loop(realtime=True)
    t0 = time.monotonic()
    assert loop.run_until_complete(asyncio.sleep(0.05, "x")) == "x"
    assert time.monotonic() - t0 >= 0.045
