"""The one event loop: integer-nanosecond time, virtual (lab) or real (live), asyncio-compatible.

Guarantees:
- Time is an integer number of nanoseconds (``loop.now_ns``). In virtual mode it only moves when the
  loop jumps to the next timer, so a 60 s experiment costs only the work done in it.
- Timers run in (time, insertion) order, so the same program gives the same event order every run:
  asyncio's own TimerHandle heap compares by time alone and does not promise that.
- The loop is an ``asyncio.AbstractEventLoop``: coroutines, tasks, futures, ``asyncio.sleep``,
  ``asyncio.wait_for``, ``asyncio.timeout`` and streams run on it, sleeping virtual time.
- Real-time mode is the same interface driven by the monotonic clock and a selector, for live mode's
  TAP file descriptor (``add_reader``). Only this mode reads a clock.

Stack code schedules its own timers with ``call_at_ns``/``call_later_ns`` (a light ``Timer`` with
``cancel()``), the way kernel code uses ``mod_timer``; applications use the asyncio API.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import selectors
import sys
import time as _time
import traceback
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

NSEC_PER_SEC = 1_000_000_000
NSEC_PER_MSEC = 1_000_000
NSEC_PER_USEC = 1_000
_MAX_SELECT_S = 3600.0  # longest single wait of the real-time loop's selector


class Timer:
    """A kernel-style timer: a callback at an absolute time in ns; ``cancel()`` is O(1) (lazy)."""

    __slots__ = ("when", "_cb", "_args", "_cancelled")

    def __init__(self, when: int, cb: Callable[..., Any], args: tuple) -> None:
        self.when = when
        self._cb = cb
        self._args = args
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True
        self._cb = None  # type: ignore[assignment]
        self._args = ()

    def cancelled(self) -> bool:
        return self._cancelled

    def _run(self) -> None:
        self._cb(*self._args)


class LoopIdle(RuntimeError):
    """``run_until_complete`` found nothing left to run while the awaited work was not done."""


class Loop(asyncio.AbstractEventLoop):
    """Deterministic event loop in virtual time (default) or real time (``realtime=True``)."""

    def __init__(self, *, realtime: bool = False, start_ns: int = 0) -> None:
        self.realtime = realtime
        self._now = start_ns
        self._seq = 0
        self._heap: list[tuple[int, int, Any]] = []
        self._ready: deque[Any] = deque()
        self._stopping = False
        self._running = False
        self._closed = False
        self._debug = False
        self._exc_handler: Callable[..., Any] | None = None
        self._errors: list[BaseException] = []
        self._selector: selectors.BaseSelector | None = None
        self._rt_base = 0
        if realtime:
            self._selector = selectors.DefaultSelector()
            self._rt_base = _time.monotonic_ns() - start_ns
        self._task_factory = None
        self.steps = 0  # callbacks run, for benchmarks

    # ----------------------------------------------------------------- time
    @property
    def now_ns(self) -> int:
        if self.realtime:
            self._now = _time.monotonic_ns() - self._rt_base
        return self._now

    def time(self) -> float:
        return self.now_ns / NSEC_PER_SEC

    # ------------------------------------------------------- kernel timers
    def call_at_ns(self, when: int, cb: Callable[..., Any], *args: Any) -> Timer:
        t = Timer(when, cb, args)
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, t))
        return t

    def call_later_ns(self, delay: int, cb: Callable[..., Any], *args: Any) -> Timer:
        return self.call_at_ns(self._now + delay if not self.realtime else self.now_ns + delay, cb, *args)

    def call_soon_ns(self, cb: Callable[..., Any], *args: Any) -> Timer:
        """Run ``cb`` after what is already ready (like raising a softirq)."""
        t = Timer(self._now, cb, args)
        self._ready.append(t)
        return t

    # ------------------------------------------------------- asyncio API
    def call_soon(self, callback, *args, context=None):  # type: ignore[override]
        self._check_closed()
        h = asyncio.Handle(callback, args, self, context)
        self._ready.append(h)
        return h

    def call_soon_threadsafe(self, callback, *args, context=None):  # type: ignore[override]
        return self.call_soon(callback, *args, context=context)

    def call_later(self, delay, callback, *args, context=None):  # type: ignore[override]
        return self.call_at(self.time() + delay, callback, *args, context=context)

    def call_at(self, when, callback, *args, context=None):  # type: ignore[override]
        self._check_closed()
        when_ns = max(int(round(when * NSEC_PER_SEC)), self._now)
        h = asyncio.TimerHandle(when_ns / NSEC_PER_SEC, callback, args, self, context)
        self._seq += 1
        heapq.heappush(self._heap, (when_ns, self._seq, h))
        h._scheduled = True
        return h

    def _timer_handle_cancelled(self, handle: Any) -> None:
        pass  # lazy deletion: the heap entry is skipped when popped

    def create_future(self) -> asyncio.Future:
        return asyncio.Future(loop=self)

    def create_task(self, coro, *, name=None, context=None):  # type: ignore[override]
        self._check_closed()
        if self._task_factory is not None:
            return self._task_factory(self, coro)
        return asyncio.Task(coro, loop=self, name=name, context=context)

    def set_task_factory(self, factory) -> None:  # type: ignore[override]
        self._task_factory = factory

    def get_task_factory(self):  # type: ignore[override]
        return self._task_factory

    def is_running(self) -> bool:
        return self._running

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._running:
            raise RuntimeError("Cannot close a running event loop")
        self._closed = True
        self._ready.clear()
        self._heap.clear()
        if self._selector is not None:
            self._selector.close()
            self._selector = None

    def stop(self) -> None:
        self._stopping = True

    def get_debug(self) -> bool:
        return self._debug

    def set_debug(self, enabled: bool) -> None:
        self._debug = enabled

    async def shutdown_asyncgens(self) -> None:
        return None

    async def shutdown_default_executor(self, timeout=None) -> None:  # type: ignore[override]
        return None

    def set_exception_handler(self, handler) -> None:  # type: ignore[override]
        self._exc_handler = handler

    def get_exception_handler(self):  # type: ignore[override]
        return self._exc_handler

    def default_exception_handler(self, context: dict) -> None:
        exc = context.get("exception")
        msg = context.get("message", "Unhandled exception in event loop")
        # A task whose exception nobody awaited is reported, not raised: it is the application's.
        print(f"tuxnet loop: {msg}", file=sys.stderr)
        if exc is not None:
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)

    def call_exception_handler(self, context: dict) -> None:
        if self._exc_handler is not None:
            self._exc_handler(self, context)
        else:
            self.default_exception_handler(context)

    # ----------------------------------------------------------- readers and writers
    # The selector's data for an fd is [reader handle, writer handle] (None when unset), as in
    # asyncio's selector loop: live mode's TAP driver reads frames and, when a write would block,
    # waits for the fd to become writable.
    def _io_set(self, fd: int, idx: int, h: asyncio.Handle | None) -> bool:
        if self._selector is None:
            if h is None:
                return False
            raise RuntimeError(("add_reader", "add_writer")[idx] + " needs a real-time loop")
        try:
            key = self._selector.get_key(fd)
        except KeyError:
            if h is None:
                return False
            data: list[Any] = [None, None]
            data[idx] = h
            self._selector.register(fd, selectors.EVENT_READ if idx == 0 else selectors.EVENT_WRITE, data)
            return True
        data = key.data
        had = data[idx] is not None
        data[idx] = h
        mask = (selectors.EVENT_READ if data[0] is not None else 0) | (
            selectors.EVENT_WRITE if data[1] is not None else 0)
        if mask:
            self._selector.modify(fd, mask, data)
        else:
            self._selector.unregister(fd)
        return had

    def add_reader(self, fd, callback, *args) -> None:  # type: ignore[override]
        self._io_set(fd, 0, asyncio.Handle(callback, args, self, None))

    def remove_reader(self, fd) -> bool:  # type: ignore[override]
        return self._io_set(fd, 0, None)

    def add_writer(self, fd, callback, *args) -> None:  # type: ignore[override]
        self._io_set(fd, 1, asyncio.Handle(callback, args, self, None))

    def remove_writer(self, fd) -> bool:  # type: ignore[override]
        return self._io_set(fd, 1, None)

    # ------------------------------------------------------------ running
    def _check_closed(self) -> None:
        if self._closed:
            raise RuntimeError("Event loop is closed")

    def _run_ready(self) -> None:
        ready = self._ready
        n = len(ready)
        while n:
            n -= 1
            h = ready.popleft()
            if h._cancelled:
                continue
            self.steps += 1
            # asyncio handles report their exceptions to the exception handler; a stack Timer's
            # exception is a bug in tuxnet and propagates out of run_*.
            h._run()

    def _next_timer_when(self) -> int | None:
        heap = self._heap
        while heap and heap[0][2]._cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _pop_due(self, limit: int) -> bool:
        """Move timers due at the earliest time (<= limit) to the ready queue; advance the clock."""
        when = self._next_timer_when()
        if when is None or when > limit:
            return False
        if not self.realtime:
            self._now = when
        heap = self._heap
        while heap and heap[0][0] <= (when if not self.realtime else self.now_ns):
            _, _, h = heapq.heappop(heap)
            if not h._cancelled:
                if not isinstance(h, Timer):
                    h._scheduled = False
                self._ready.append(h)
        return True

    def _step(self, limit: int) -> bool:
        """One iteration. Returns False when there is nothing left to do before ``limit``."""
        if self._ready:
            self._run_ready()
            return True
        if self.realtime:
            return self._step_realtime(limit)
        return self._pop_due(limit)

    def _step_realtime(self, limit: int) -> bool:
        when = self._next_timer_when()
        now = self.now_ns
        deadline = limit if when is None else min(when, limit)
        # capped: with no timer and no limit the deadline is ~146 years away, beyond what epoll takes
        timeout = min(max(0, deadline - now) / NSEC_PER_SEC, _MAX_SELECT_S)
        assert self._selector is not None
        if self._selector.get_map():
            events = self._selector.select(timeout)
            for key, mask in events:
                reader, writer = key.data
                if mask & selectors.EVENT_READ and reader is not None:
                    self._ready.append(reader)
                if mask & selectors.EVENT_WRITE and writer is not None:
                    self._ready.append(writer)
        elif timeout > 0:
            _time.sleep(timeout)
        now = self.now_ns
        if when is not None and when <= now:
            self._pop_due(now)
        return bool(self._ready) or now < limit

    def _enter(self) -> Any:
        if self._running:
            raise RuntimeError("This event loop is already running")
        self._check_closed()
        self._running = True
        self._stopping = False
        old = asyncio.events._get_running_loop()
        asyncio.events._set_running_loop(self)
        return old

    def _leave(self, old: Any) -> None:
        self._running = False
        self._stopping = False
        asyncio.events._set_running_loop(old)

    def run_until(self, when_ns: int) -> None:
        """Run every event up to and including ``when_ns``, then set the clock to ``when_ns``."""
        old = self._enter()
        try:
            while not self._stopping and self._step(when_ns):
                pass
            if not self.realtime and self._now < when_ns and not self._stopping:
                self._now = when_ns
        finally:
            self._leave(old)

    def run_for(self, duration_ns: int) -> None:
        self.run_until(self.now_ns + duration_ns)

    def run_until_idle(self, limit_ns: int | None = None) -> None:
        """Run until no event is left (or until ``limit_ns``)."""
        limit = limit_ns if limit_ns is not None else (1 << 62)
        old = self._enter()
        try:
            while not self._stopping and self._step(limit):
                pass
        finally:
            self._leave(old)

    def run_forever(self) -> None:
        self.run_until_idle() if not self.realtime else self.run_until(1 << 62)

    def run_until_complete(self, future, *, timeout_ns: int | None = None):  # type: ignore[override]
        """Run until ``future`` is done. In virtual time, an idle loop with the work unfinished raises
        LoopIdle (it would hang forever in real life); ``timeout_ns`` bounds the virtual time spent."""
        fut = asyncio.ensure_future(future, loop=self)
        limit = (self.now_ns + timeout_ns) if timeout_ns is not None else (1 << 62)
        old = self._enter()
        try:
            while not fut.done():
                if self._stopping:
                    break
                if not self._step(limit):
                    break
        finally:
            self._leave(old)
        if not fut.done():
            if timeout_ns is not None and not self.realtime and self._next_timer_when() is not None:
                self._now = max(self._now, limit)  # the next event lies beyond the limit
            if timeout_ns is not None and self.now_ns >= limit:
                fut.cancel()
                self._drain_cancel(fut)
                raise TimeoutError(f"not done after {timeout_ns / NSEC_PER_SEC:g} s of loop time")
            fut.cancel()
            self._drain_cancel(fut)
            raise LoopIdle("the loop ran out of events before the awaited work finished")
        return fut.result()

    def _drain_cancel(self, fut: asyncio.Future) -> None:
        old = self._enter()
        try:
            for _ in range(100):
                if fut.done() or not self._ready:
                    break
                self._run_ready()
        finally:
            self._leave(old)

    # Not provided: executors, sockets, subprocesses. The lab never uses the host's I/O.
    def run_in_executor(self, executor, func, *args):  # type: ignore[override]
        raise NotImplementedError("tuxnet's loop runs no executor: the stack never blocks")


def spawn(loop: Loop, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task:
    """Start an application coroutine on ``loop`` (usable outside a running loop)."""
    return loop.create_task(coro, name=name, context=contextvars.copy_context())
