"""The HTTP API: ``build_app(models, config)`` -> a FastAPI app that uvicorn runs.

Endpoints: ``GET /health`` (alive), ``GET /ready`` (503 until every model is loaded), ``GET /v1/models``,
``POST /v1/models/{name}/{verb}`` (one route per model and verb, with its schema in the OpenAPI docs at
``/docs``), ``GET /metrics`` (Prometheus) and ``GET /`` (the playground page). Every error is a JSON
``{"error": "..."}`` with a 4xx status naming the problem; models load in worker threads after the server
starts, so ``/health`` answers at once and ``/ready`` says when the models do.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from . import streaming
from .batching import Batcher, BatchStats, QueueFull
from .config import ServeConfig
from .guard import Guard
from .replies import error, outcome_response, refused, wait
from .metrics import CONTENT_TYPE_LATEST, Metrics, new_metrics
from .verbs import Served, Verb, error_message, parse

log = logging.getLogger("rnnkit.serve")


@dataclass
class State:
    config: ServeConfig
    models: dict[str, Served]
    metrics: Metrics = field(default_factory=new_metrics)
    batchers: dict[tuple[str, str], Batcher] = field(default_factory=dict)
    executors: dict[str, ThreadPoolExecutor] = field(default_factory=dict)
    failed: str = ""  # why a model could not be loaded
    on_failure: Any = None  # called with the message (the CLI stops the server)

    @property
    def ready(self) -> bool:
        return all(m.model is not None for m in self.models.values())


def build_app(models: dict[str, Served], config: ServeConfig, on_failure=None) -> FastAPI:
    """The server for ``models`` (``{name: Served}``, not loaded yet: the app loads them once it runs)."""
    state = State(config, models, on_failure=on_failure)
    app = FastAPI(title="rnnkit serve", version=_version(), lifespan=_lifespan(state),
                  description="Trained rnnkit models over HTTP. Errors are JSON objects {\"error\": \"...\"}.")
    app.state.rnnkit = state
    _routes(app, state)
    for name, s in models.items():
        for verb_name, verb in s.verbs.items():
            _verb_route(app, state, s, verb_name, verb)
    _unknown_routes(app, state)
    _error_handlers(app)
    app.add_middleware(Guard, key=config.api_key(), max_body=config.max_body_kb * 1024)
    if config.cors_origin:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=[config.cors_origin], allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    return app


def _version() -> str:
    from .. import __version__

    return __version__


def _lifespan(state: State):
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        for name, served in state.models.items():
            state.executors[name] = ThreadPoolExecutor(1, thread_name_prefix=f"rnnkit-{name}")
            for verb_name, verb in served.verbs.items():
                state.batchers[name, verb_name] = _batcher(state, served, verb_name, verb)
        for b in state.batchers.values():
            b.start()
        loading = asyncio.get_running_loop().create_task(_load_all(state))
        yield
        loading.cancel()
        for b in state.batchers.values():
            await b.stop()
        for ex in state.executors.values():
            ex.shutdown(wait=False, cancel_futures=True)

    return lifespan


def _batcher(state: State, served: Served, verb_name: str, verb: Verb) -> Batcher:
    cfg, m, labels = state.config, state.metrics, (served.name, verb_name)
    stats = BatchStats(lambda n: m.batch_size.labels(*labels).observe(n),
                       lambda: m.rejected.labels(*labels, "skipped").inc())
    stream = (lambda request, emit: verb.stream(served.model, request, emit)) if verb.stream else None
    return Batcher(lambda requests: verb.run(served.model, requests), stream, state.executors[served.name],
                   cfg.max_batch, cfg.max_wait_ms / 1000, cfg.max_queue, stats)


async def _load_all(state: State) -> None:
    loop = asyncio.get_running_loop()
    for name, served in state.models.items():
        try:
            await loop.run_in_executor(state.executors[name], served.load, state.config.threads)
            log.info("model %s ready (%s, %s)", name, served.task, served.backend)
        except Exception as e:  # noqa: BLE001 - the server reports it and stops
            state.failed = f"model {name} ({served.run}) could not be loaded: {e}"
            log.error(state.failed)
            if state.on_failure:
                state.on_failure(state.failed)
            return


def _routes(app: FastAPI, state: State) -> None:
    @app.get("/health", summary="the process is alive")
    async def health():
        return {"status": "ok"}

    @app.get("/ready", summary="200 once every model is loaded, 503 before")
    async def ready():
        if state.ready:
            return {"status": "ready", "models": list(state.models)}
        loading = [n for n, m in state.models.items() if m.model is None]
        return error(503, state.failed or f"loading {', '.join(loading)}", {"Retry-After": "1"})

    @app.get("/v1/models", summary="the models served: name, task, verbs, key options, test metrics")
    async def models():
        return {"models": [m.info or {"name": n, "task": m.task, "backend": m.backend, "loading": True}
                           for n, m in state.models.items()],
                "limits": _limits(state.config)}

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics():
        for (name, verb), b in state.batchers.items():
            state.metrics.queue_depth.labels(name, verb).set(b.depth)
        return Response(state.metrics.text(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def playground():
        return HTMLResponse(resources.files(__package__).joinpath("playground.html").read_text("utf-8"))


def _limits(cfg: ServeConfig) -> dict:
    return {"max_body_kb": cfg.max_body_kb, "max_chars": cfg.max_chars, "max_items": cfg.max_items,
            "max_length": cfg.max_length, "max_horizon": cfg.max_horizon, "max_audio_s": cfg.max_audio_s}


def _openapi_body(verb: Verb) -> dict:
    if verb.upload:
        return {"requestBody": {"required": True, "content": {verb.upload: {"schema": {"type": "string",
                                                                                      "format": "binary"}}}}}
    schema = verb.request.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _verb_route(app: FastAPI, state: State, served: Served, verb_name: str, verb: Verb) -> None:
    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        response = await _answer(state, served, verb_name, verb, request)
        m = state.metrics
        m.requests.labels(served.name, verb_name, str(response.status_code)).inc()
        m.latency.labels(served.name, verb_name).observe(time.perf_counter() - started)
        return response

    app.add_api_route(f"/v1/models/{served.name}/{verb_name}", endpoint, methods=["POST"], summary=verb.summary,
                      tags=[served.name], openapi_extra=_openapi_body(verb), name=f"{served.name}.{verb_name}")


async def _answer(state: State, served: Served, verb_name: str, verb: Verb, request: Request) -> Response:
    if served.model is None:
        return error(503, f"model {served.name} is still loading; retry when GET /ready answers 200",
                     {"Retry-After": "1"})
    try:
        body = parse(verb, await request.body(), dict(request.query_params), state.config)
    except ValidationError as e:
        return error(422, error_message(e))
    batcher = state.batchers[served.name, verb_name]
    if getattr(body, "stream", False) and verb.stream is not None:
        return await streaming.respond(state, served.name, verb_name, batcher, body, verb.key(body), request)
    try:
        item = batcher.submit(body, verb.key(body))
    except QueueFull:
        return refused(state, served.name, verb_name)
    outcome = await wait(item, request, state.config.timeout_s)
    return outcome_response(state, served.name, verb_name, item, outcome)


def _unknown_routes(app: FastAPI, state: State) -> None:
    @app.post("/v1/models/{name}/{verb}", include_in_schema=False)
    async def unknown(name: str, verb: str):
        if name not in state.models:
            return error(404, f"no model named {name!r}; GET /v1/models lists them ({', '.join(state.models)})")
        return error(404, f"model {name!r} has no verb {verb!r}; its verbs: {', '.join(state.models[name].verbs)}")


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        message = {404: f"no endpoint {request.url.path}; see /docs", 405: f"{request.method} is not allowed on "
                   f"{request.url.path}; see /docs"}.get(exc.status_code, str(exc.detail))
        return error(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return error(422, json.dumps(exc.errors(), default=str)[:500])
