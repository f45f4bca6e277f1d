"""Server-sent events: a ``"stream": true`` request gets its text piece by piece as it is generated.

The generation runs alone in the model's worker thread and calls ``emit(piece)`` per token; each piece
reaches the client as ``data: {"text": piece}``, and the end as ``event: done`` with the whole answer (or
``event: error``). The response starts with the first piece, so a request that fails at once (a prime
the vocabulary cannot encode) still gets a plain 4xx JSON error; a client that leaves stops the generation.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from ..core.errors import RnnkitError
from .batching import QueueFull
from .replies import outcome_response, refused, wait


class Stopped(Exception):
    """Raised in the worker thread by ``emit`` once the client has gone: the generation stops."""


def event(data: dict, name: str = "") -> str:
    return (f"event: {name}\n" if name else "") + f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


async def respond(state, name: str, verb: str, batcher, body: Any, key, request: Request) -> Response:
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue = asyncio.Queue()
    holder: list = []

    def emit(piece: str) -> None:  # worker thread
        if holder and holder[0].gone:
            raise Stopped
        loop.call_soon_threadsafe(pieces.put_nowait, piece)

    try:
        item = batcher.submit(body, ("stream", key), emit)
    except QueueFull:
        return refused(state, name, verb)
    holder.append(item)
    first = asyncio.ensure_future(pieces.get())
    outcome = await wait(item, request, state.config.timeout_s, first)
    if outcome != "done" or not first.done():
        first.cancel()
        return outcome_response(state, name, verb, item, outcome)
    return StreamingResponse(_events(item, first.result(), pieces), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _events(item, first: str, pieces: asyncio.Queue):
    try:
        yield event({"text": first})
        while True:
            getter = asyncio.ensure_future(pieces.get())
            done, _ = await asyncio.wait({getter, item.future}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                yield event({"text": getter.result()})
                continue
            getter.cancel()
            while not pieces.empty():
                yield event({"text": pieces.get_nowait()})
            yield _final(item)
            return
    finally:
        item.gone = True  # a client that left mid-stream stops the generation at its next token


def _final(item) -> str:
    try:
        return event(item.future.result(), "done")
    except RnnkitError as e:
        return event({"error": str(e)}, "error")
    except Exception:  # noqa: BLE001 - logged by the server; the client gets a line
        import logging

        logging.getLogger("rnnkit.serve").exception("streaming failed")
        return event({"error": "generation failed; the server log has the details"}, "error")
