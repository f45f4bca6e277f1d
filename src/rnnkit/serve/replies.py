"""The server's answers: JSON errors, the 503 of a full queue, waiting for a queued request's answer
(while watching for its client leaving and for the timeout) and turning its outcome into a response."""

from __future__ import annotations

import asyncio
import logging

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from ..core.errors import RnnkitError

log = logging.getLogger("rnnkit.serve")


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status, headers=headers)


def refused(state, name: str, verb: str) -> JSONResponse:
    state.metrics.rejected.labels(name, verb, "queue_full").inc()
    return error(503, f"the queue of {name}/{verb} is full ({state.config.max_queue} waiting, --max-queue); "
                      f"retry after a second", {"Retry-After": "1"})


async def wait(item, request: Request, timeout: float, first=None) -> str:
    """Wait for ``item``'s answer (or ``first``, an awaitable that answers earlier): "done", "timeout" or
    "gone" (the client disconnected); a request that timed out or lost its client is marked gone."""
    left = asyncio.ensure_future(_disconnected(request))
    watched = {item.future, left} | ({first} if first is not None else set())
    done, _ = await asyncio.wait(watched, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    left.cancel()
    if item.future in done or (first is not None and first in done):
        return "done"
    item.gone = True
    return "gone" if left in done else "timeout"


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


def outcome_response(state, name: str, verb: str, item, outcome: str) -> Response:
    if outcome != "done":
        state.metrics.rejected.labels(name, verb, "timeout" if outcome == "timeout" else "disconnected").inc()
        if outcome == "gone":
            return Response(status_code=499)  # nobody reads it: the client closed the connection
        return error(504, f"no answer within {state.config.timeout_s:g} s (--timeout-s); the server is busy, "
                          f"retry later or send less per request")
    try:
        return JSONResponse(item.future.result())
    except RnnkitError as e:
        return error(422, str(e))
    except Exception:  # noqa: BLE001 - a bug, not the client's fault: logged with its traceback
        log.exception("%s/%s failed", name, verb)
        return error(500, f"{name}/{verb} failed on this input; the server log has the details")
