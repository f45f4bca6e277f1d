"""Serve trained runs over HTTP: ``rnnkit serve RUN [NAME=RUN ...]``.

A FastAPI app on uvicorn (:mod:`.app`) with a route per model and verb, whose JSON bodies are validated
against each task's schema (:mod:`.verbs`; each task's ``serve`` module declares its verbs). Concurrent
requests to a model are gathered into one forward pass (:mod:`.batching`), run in the model's worker
thread off the event loop; a bounded queue refuses excess load with 503, a slow request gets 504.
:mod:`.guard` checks the API key and the body size, :mod:`.streaming` sends generated text as
server-sent events, :mod:`.metrics` counts for Prometheus, and ``playground.html`` is the page at ``/``.

Python::

    from rnnkit.serve import ServeConfig, build_app, named_runs, served
    app = build_app({n: served(n, r, "torch") for n, r in named_runs(["runs/spa-eng"]).items()}, ServeConfig())
"""

from __future__ import annotations

from ..core.lazy import exports

# imported on first use, so that the CLI's parser (which imports .commands) loads neither FastAPI nor pydantic
_WHERE = {"ServeConfig": ".config", "build_app": ".app", "serve": ".server",
          **{name: ".verbs" for name in ("Body", "Served", "Verb", "named_runs", "served")}}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = exports(__name__, _WHERE)
