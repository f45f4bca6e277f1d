"""The server's gate, an ASGI middleware: the API key (when one is set) and the body size limit.

Both answer before any route runs: 401 without ``Authorization: Bearer KEY`` (compared in constant time;
``/health``, ``/ready``, the playground page and the API docs stay open), 413 for a body over the limit,
whether it declares its length or streams it in chunks.
"""

from __future__ import annotations

import hmac
import json

OPEN = {"/health", "/ready", "/", "/docs", "/openapi.json", "/docs/oauth2-redirect", "/favicon.ico"}


class Guard:
    def __init__(self, app, key: str | None, max_body: int):
        self.app, self.key, self.max_body = app, key, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self.key and scope["path"] not in OPEN and scope["method"] != "OPTIONS" and not self._allowed(headers):
            return await _reply(send, 401, "this server needs an API key: send the header 'Authorization: Bearer KEY'",
                                {"www-authenticate": "Bearer"})
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return await _reply(send, 413, self._too_big(int(declared)))
        if scope["method"] in ("POST", "PUT", "PATCH"):
            body, more = await self._read(receive)
            if more:
                return await _reply(send, 413, self._too_big(len(body)))
            receive = _replay(body, receive)
        return await self.app(scope, receive, send)

    def _allowed(self, headers: dict[str, str]) -> bool:
        scheme, _, given = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.key.encode())

    def _too_big(self, size: int) -> str:
        return (f"the request body has {size:,} bytes or more; the limit is {self.max_body:,} "
                f"(--max-body-kb {self.max_body // 1024})")

    async def _read(self, receive) -> tuple[bytes, bool]:
        """The whole body, or (what was read, True) once it passes the limit."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks), False
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                return b"".join(chunks), True
            if not message.get("more_body", False):
                return b"".join(chunks), False


def _replay(body: bytes, receive):
    """A ``receive`` that gives the app the body read already, then passes on (a disconnect, later)."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _reply(send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": message}).encode()
    extra = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})
