"""``rnnkit serve``'s options: where it listens, how it batches, what it refuses.

One dataclass (flags of ``rnnkit serve``, a ``[serve]`` table of a config file); :class:`Limits` are the
sizes a request may have, enforced before a request reaches a model (413 for a body, 422 for a field).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from ..core.config import option, require
from ..core.errors import RnnkitError


@dataclass
class ServeConfig:
    host: str = option("127.0.0.1", "address to listen on; any address but loopback needs --api-key-env or --no-auth")
    port: int = option(8000, "port to listen on (0: any free port, printed at start)")
    backend: str = option("torch", "run the models with PyTorch, or with their ONNX export in RUN/onnx "
                                   "(rnnkit export RUN first; no torch in the request path)", ("torch", "onnx"))
    max_batch: int = option(32, "most requests to one model gathered into one forward pass")
    max_wait_ms: float = option(5.0, "under load, how long a batch waits for more requests before it runs "
                                     "(an idle server runs a lone request at once)")
    max_queue: int = option(256, "requests waiting per model and verb; more are refused at once with 503 and Retry-After")
    timeout_s: float = option(30.0, "a request not answered in this many seconds gets 504")
    api_key_env: str = option("", "environment variable holding the API key; requests then need "
                                  "'Authorization: Bearer KEY' (all but /health and /ready)")
    auth: bool = option(True, "--no-auth serves a non-loopback address without an API key (trusted networks only)")
    cors_origin: str = option("", "allow browser pages from this origin to call the API (CORS; off by default)")
    threads: int = option(0, "threads each model's forward pass may use (0: PyTorch's and onnxruntime's default)")
    max_body_kb: int = option(1024, "largest request body in KiB (413 above)")
    max_chars: int = option(2000, "longest text (prime, sentence, input) in characters")
    max_items: int = option(64, "most sentences or inputs in one request")
    max_length: int = option(2000, "most tokens one sample request may generate")
    max_horizon: int = option(1000, "longest forecast horizon in steps")
    max_audio_s: float = option(60.0, "longest uploaded clip in seconds")

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_queue", "max_body_kb", "max_chars", "max_items", "max_length", "max_horizon"):
            require(getattr(self, name) >= 1, name, f"must be at least 1, got {getattr(self, name)}")
        require(0 <= self.port <= 65535, "port", f"must be in 0..65535, got {self.port}")
        require(self.max_wait_ms >= 0, "max_wait_ms", f"must be 0 or more, got {self.max_wait_ms}")
        require(self.timeout_s > 0, "timeout_s", f"must be positive, got {self.timeout_s}")
        require(self.max_audio_s > 0, "max_audio_s", f"must be positive, got {self.max_audio_s}")
        require(self.threads >= 0, "threads", f"must be 0 or more, got {self.threads}")

    def api_key(self) -> str | None:
        """The key requests must carry, or None (loopback, or --no-auth); a one-line error when a non-loopback
        address has neither a key nor --no-auth, or the variable named is unset."""
        if self.api_key_env:
            key = os.environ.get(self.api_key_env, "")
            if not key:
                raise RnnkitError(f"--api-key-env {self.api_key_env}: that environment variable is unset or empty; "
                                  f"export {self.api_key_env}=SOME-SECRET first")
            return key
        if self.auth and not is_loopback(self.host):
            raise RnnkitError(f"--host {self.host} accepts requests from other machines: pass --api-key-env VAR "
                              f"(requests then need 'Authorization: Bearer KEY') or --no-auth on a trusted network")
        return None


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
