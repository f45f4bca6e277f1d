"""Micro-batching: concurrent requests to one model's verb gathered into one forward pass.

A :class:`Batcher` holds a bounded queue. Its loop takes the oldest live request, adds the queued ones
that may share its pass (equal ``key``: the same search options, say) up to ``max_batch``, and runs them
in the model's worker thread, off the event loop. An idle server runs a lone request at once; under load
(the last pass held more than one request, or more are already queued) it waits up to ``max_wait`` for
the batch to fill. A full queue refuses at once (:class:`QueueFull`, 503); a request marked ``gone``
(its client left, or it timed out) is dropped before it runs. A streaming request runs alone, its
``emit`` called from the worker thread with each piece.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

log = logging.getLogger("rnnkit.serve")


class QueueFull(Exception):
    """The batcher's queue holds ``max_queue`` requests already."""


@dataclass(eq=False)
class Item:
    """One queued request: what the verb gets, which requests it may share a pass with, where its answer goes."""

    request: Any
    key: Hashable
    future: asyncio.Future
    emit: Callable[[Any], None] | None = None  # a streaming request's sink (called in the worker thread)
    gone: bool = False  # the client left or the request timed out: never run it


@dataclass
class BatchStats:
    """Counters the server's metrics read after each pass."""

    on_batch: Callable[[int], None] = lambda size: None
    on_skip: Callable[[], None] = lambda: None


@dataclass(eq=False)
class Batcher:
    run_batch: Callable[[list[Any]], list[Any]]  # requests -> one answer each (runs in ``executor``)
    run_stream: Callable[[Any, Callable[[Any], None]], Any] | None  # (request, emit) -> final answer
    executor: Executor  # the model's worker (one thread: one pass at a time per model)
    max_batch: int
    max_wait: float  # seconds
    max_queue: int
    stats: BatchStats = field(default_factory=BatchStats)
    pending: deque = field(default_factory=deque)
    recent: int = 1  # requests in the last pass
    _arrived: asyncio.Event | None = None
    _task: asyncio.Task | None = None

    def start(self) -> None:
        self._arrived = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def depth(self) -> int:
        return len(self.pending)

    def submit(self, request: Any, key: Hashable = None, emit: Callable[[Any], None] | None = None) -> Item:
        """Queue ``request``; raises :class:`QueueFull` when ``max_queue`` requests wait already."""
        if len(self.pending) >= self.max_queue:
            raise QueueFull
        item = Item(request, key, asyncio.get_running_loop().create_future(), emit)
        self.pending.append(item)
        self._arrived.set()
        return item

    async def _loop(self) -> None:
        while True:
            if not self.pending:
                self._arrived.clear()
                await self._arrived.wait()
            batch = await self._gather()
            if batch:
                self.recent = len(batch)
                self.stats.on_batch(len(batch))
                await self._run(batch)

    def _take(self, key: Hashable = None, any_key: bool = False) -> Item | None:
        """The oldest live queued item (with ``key`` unless ``any_key``), removed from the queue; gone ones are dropped."""
        for item in list(self.pending):
            if item.gone or item.future.done():
                self.pending.remove(item)
                self.stats.on_skip()
            elif any_key or (item.emit is None and item.key == key):
                self.pending.remove(item)
                return item
        return None

    async def _gather(self) -> list[Item]:
        first = self._take(any_key=True)
        if first is None or first.emit is not None:
            return [first] if first else []
        batch = [first]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        while len(batch) < self.max_batch:
            item = self._take(first.key)
            if item is not None:
                batch.append(item)
                continue
            left = deadline - loop.time()
            if left <= 0 or (self.recent <= 1 and len(batch) == 1):  # idle: run a lone request at once
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except asyncio.TimeoutError:
                break
        return batch

    async def _run(self, batch: list[Item]) -> None:
        loop = asyncio.get_running_loop()
        try:
            if batch[0].emit is not None:
                results = [await loop.run_in_executor(self.executor, self.run_stream, batch[0].request, batch[0].emit)]
            else:
                results = await loop.run_in_executor(self.executor, self.run_batch, [i.request for i in batch])
        except Exception as error:  # noqa: BLE001 - handed to the request that caused it
            if len(batch) > 1:  # one bad request must not fail the others: run each alone
                for item in batch:
                    await self._run([item])
                return
            _settle(batch[0], error=error)
            return
        for item, result in zip(batch, results):
            _settle(item, result)


def _settle(item: Item, result: Any = None, error: BaseException | None = None) -> None:
    if item.future.done():  # cancelled by its endpoint (client gone, timed out)
        return
    if error is not None:
        item.future.set_exception(error)
    else:
        item.future.set_result(result)
