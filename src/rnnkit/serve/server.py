"""Run the server: check the runs, bind the socket, print where it listens, serve until Ctrl-C or SIGTERM.

uvicorn handles both signals the same way: it stops accepting connections, lets the requests in flight
finish (up to ``--timeout-s``), then the app stops its batchers.
"""

from __future__ import annotations

import socket
from typing import Callable

from ..core.errors import RnnkitError
from .config import ServeConfig
from .verbs import named_runs, served


def serve(runs: list[str], config: ServeConfig, announce: Callable[[str], None] = print) -> None:
    """Serve ``runs`` (``["RUN", "NAME=RUN", ...]``) as ``config`` says; returns when the server has stopped."""
    from .app import build_app

    config.api_key()  # an open address without a key or --no-auth is refused before anything loads
    models = {name: served(name, run, config.backend) for name, run in named_runs(runs).items()}
    failure: list[str] = []
    app = build_app(models, config, on_failure=lambda message: (failure.append(message), _stop(server)))
    sock = bind(config.host, config.port)
    host, port = sock.getsockname()[:2]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    server = uvicorn_server(app, config.timeout_s)
    announce(f"rnnkit serve: {', '.join(f'{n} ({m.task}, {m.backend})' for n, m in models.items())}")
    announce(f"listening on {url}  (playground {url}/, API docs {url}/docs; Ctrl-C stops)")
    server.run(sockets=[sock])
    if failure:
        raise RnnkitError(failure[0])
    announce("rnnkit serve: stopped")


def uvicorn_server(app, drain_s: float):
    """uvicorn's server for ``app``, quiet (no access log), giving requests in flight ``drain_s`` seconds to finish
    at Ctrl-C or SIGTERM, after which the command ends with status 0 (uvicorn would raise the signal again)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            super().handle_exit(sig, frame)
            getattr(self, "_captured_signals", []).clear()  # drained cleanly: not an error

    return Server(uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=int(drain_s) + 1))


def _stop(server) -> None:
    server.should_exit = True


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one); a one-line error when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets whose proto says TCP;
    # with it on, a response written in two parts waits for the client's delayed ACK (40 ms a request on Linux)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise RnnkitError(f"cannot listen on {host}:{port} ({e.strerror}); pick another --port or --host")
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
