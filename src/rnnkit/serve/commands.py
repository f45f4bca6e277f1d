"""The ``rnnkit serve`` verb: its parser and a thin command that runs the app on uvicorn."""

from __future__ import annotations

import argparse
import sys

from ..core.config import add_arguments, from_dict, overrides_from_args
from .config import ServeConfig


def add_parsers(sub) -> dict:
    """Add ``serve`` to the CLI's subparsers; returns ``{verb: command}``."""
    s = sub.add_parser("serve", help="serve trained runs over HTTP: a JSON API with batching, and a browser playground",
                       description="Serve one or more trained runs (any task) in one process: POST "
                                   "/v1/models/NAME/VERB with a JSON body, GET /v1/models, /health, /ready, "
                                   "/metrics (Prometheus), /docs (OpenAPI) and / (a playground page). Concurrent "
                                   "requests to a model are batched into one forward pass. Stop with Ctrl-C: "
                                   "requests in flight finish first.")
    s.add_argument("runs", nargs="+", metavar="[NAME=]RUN",
                   help="run directories to serve; a model is named after its folder unless given as NAME=RUN")
    add_arguments(s, ServeConfig, "serve")
    return {"serve": cmd_serve}


def cmd_serve(args: argparse.Namespace) -> None:
    from .server import serve

    config = from_dict(ServeConfig, overrides_from_args(args).get("serve", {}), "serve options")
    serve(args.runs, config, announce=lambda line: print(line, file=sys.stderr, flush=True))
