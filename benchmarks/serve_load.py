"""Load test of ``rnnkit serve``: throughput and latency by concurrency, what batching buys, the server's
overhead over the Python API, overload, a memory soak, and streaming's time to first token.

    python benchmarks/serve_load.py                                   # every case on the default runs (about 10 min)
    python benchmarks/serve_load.py --cases concurrency batching --seconds 10
    python benchmarks/serve_load.py --backend onnx                    # the runs' ONNX exports (rnnkit export RUN)
    python benchmarks/serve_load.py --cases soak --soak-requests 500  # a short check of the script

Each server is a real ``rnnkit serve NAME=RUN ... --port 0`` subprocess (its address read from the
"listening on URL" line, used once ``/ready`` answers 200), driven by httpx AsyncClient users on asyncio:
one task per concurrent user, each sending its next request as soon as the last is answered. The clients
run on the same machine as the server and take CPU from it (on 2 cores, a real cost at high concurrency).

Cases (``--cases``):

- ``concurrency``: the translator (``--translate-run``, its default search), one sentence per request
  (the source column of ../shared/data/spa-eng.txt, or a built-in list), 1, 4, 16 and 64 users;
- ``batching``: 32 users against the default ``--max-batch 32`` and against ``--max-batch 1``
  (targets: at least 4x the requests/s, p99 under 1 s);
- ``ceiling``: no server: the same sentences through the Python API in this process, 32 per call against one
  per call: the most batching could buy, with no HTTP and no clients sharing the CPU (no target);
- ``overhead``: one user, one sentence, the server's p50 minus the p50 of the same call through the
  Python API in this process (``rnnkit.translate``; ``rnnkit.runtime.for_run`` with ``--backend onnx``;
  target: under 5 ms);
- ``overload``: 512 users against ``--max-queue 64``, each refused user waiting as the 503's Retry-After
  asks (``--impolite``: sending again at once) (targets: every 503 within 50 ms, no other error status, no
  crash; afterwards ``/ready`` is 200 and a one-user p50 is back to the idle one, within 25%);
- ``soak``: ``--soak-requests`` (20,000) at 16 users (targets: no error, server RSS grows under 5% between
  request 2,000 and the last);
- ``streaming``: ``"stream": true`` sample requests to the language model (``--lm-run``) by one user,
  time to the first server-sent token (target: p50 under 50 ms).

Every row gives requests/s and p50/p95/p99 latency (of the 200 answers), errors by status, the mean batch
size (from /metrics: ``rnnkit_batch_size`` sum and count before and after) and the server's resident memory.
The tables are printed as Markdown and appended, with the machine, versions, command and load average, to
benchmarks/results/serve-DATE.md (``--log``); docs/benchmarks/serve.md holds the reported figures.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "spa-eng.txt"
TIMEOUT = httpx.Timeout(120.0)
CASES = ["concurrency", "batching", "ceiling", "overhead", "overload", "soak", "streaming"]
SENTENCES = [  # when spa-eng.txt is absent: short Spanish sentences, as the translator was trained on
    "Hola.", "¿Cómo estás?", "Tengo hambre.", "Me gusta leer libros.", "¿Dónde está la estación?",
    "Hace mucho frío hoy.", "Ella vive en Madrid.", "No sé qué hacer.", "Mañana vamos a la playa.",
    "Tom compró un coche nuevo.", "¿Puedes ayudarme, por favor?", "El perro duerme en el jardín.",
    "Estudio español desde hace dos años.", "La reunión empieza a las tres.", "Necesito un médico.",
    "¿Cuánto cuesta este libro?",
]


# --- the server ------------------------------------------------------------------------------------------

class Server:
    """``rnnkit serve`` in a subprocess: started, announced and ready on entry, SIGTERMed on exit."""

    def __init__(self, runs: dict[str, Path], backend: str, flags: list[str] = ()):
        self.argv = [sys.executable, "-m", "rnnkit.cli", "serve", *(f"{n}={r}" for n, r in runs.items()),
                     "--port", "0", "--backend", backend, *flags]
        self.flags, self.log = " ".join(flags) or "defaults", deque(maxlen=40)
        self.url, self.proc = "", None

    def __enter__(self) -> "Server":
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            self.url = self._announced()
            threading.Thread(target=self._drain, daemon=True).start()
            deadline = time.monotonic() + 300
            while httpx.get(self.url + "/ready").status_code != 200:
                if not self.alive or time.monotonic() > deadline:
                    raise SystemExit(f"rnnkit serve never became ready: {''.join(self.log)}")
                time.sleep(0.2)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _announced(self) -> str:
        for line in self.proc.stderr:
            self.log.append(line)
            if line.startswith("listening on "):
                return line.split()[2]
        raise SystemExit(f"rnnkit serve exited before listening ({shlex.join(self.argv[1:])}):\n{''.join(self.log)}")

    def _drain(self) -> None:  # the server's later log lines (kept for error messages; a full pipe would block it)
        for line in self.proc.stderr:
            self.log.append(line)

    def __exit__(self, *exc) -> None:
        if self.alive:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_mb(self) -> float:
        """The server's resident memory in MiB (psutil where installed, else /proc/PID/status)."""
        try:
            import psutil

            return psutil.Process(self.proc.pid).memory_info().rss / 2**20
        except ImportError:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
            return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1)) / 1024

    def batches(self, model: str) -> tuple[float, float]:
        """(requests run, passes run) of ``model`` so far: /metrics' ``rnnkit_batch_size`` sum and count."""
        text = httpx.get(self.url + "/metrics").text
        found = [sum(float(v) for v in re.findall(rf'^rnnkit_batch_size_{part}{{[^}}]*model="{model}"[^}}]*}} (\S+)$',
                                                  text, re.M)) for part in ("sum", "count")]
        return found[0], found[1]


# --- the clients -----------------------------------------------------------------------------------------

@dataclass
class Load:
    """What the users of one measurement saw: every answer's status and seconds, and the wall time."""

    seconds: float = 0.0
    answers: list[tuple[int | str, float]] = field(default_factory=list)  # (HTTP status or error name, seconds)
    lags: list[float] = field(default_factory=list)  # the clients' event-loop lag, seconds (see lag())

    def latencies(self, status: int | str | None = 200) -> np.ndarray:
        return np.array([s for code, s in self.answers if status is None or code == status])

    @property
    def statuses(self) -> Counter:
        return Counter(code for code, _ in self.answers)

    def errors(self) -> str:
        bad = {k: v for k, v in self.statuses.items() if k != 200}
        return ", ".join(f"{v:,} x {k}" for k, v in sorted(bad.items(), key=str)) or "0"


async def drive(url: str, path: str, bodies: list[dict], users: int, seconds: float | None = None,
                requests: int | None = None, at: dict[int, Callable[[], None]] | None = None, polite: bool = False,
                warmup: float = 0.0, on_start: Callable[[], None] = lambda: None) -> Load:
    """``users`` concurrent users POSTing ``bodies`` (in turn) to ``url + path``: ``warmup`` seconds not recorded
    (``on_start()`` is called when they end), then ``seconds`` or ``requests`` requests in all; ``at[n]()`` is
    called when the n-th recorded answer arrives. ``polite`` users wait as a 503's ``Retry-After`` asks (times 0.5
    to 1.5, so that they do not all come back at once) before their next request."""
    load, sent, at, jitter = Load(), [0], at or {}, random.Random(0)
    start = time.perf_counter() + warmup
    end = start + seconds if seconds is not None else float("inf")

    async def user() -> None:  # a client of its own: one pool shared by hundreds of users would be the bottleneck
        async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT, verify=False) as client:
            while time.perf_counter() < end and (requests is None or sent[0] < requests):
                body = bodies[sent[0] % len(bodies)]
                t0, retry = time.perf_counter(), 0.0
                sent[0] += t0 >= start
                try:
                    response = await client.post(path, json=body)
                    status: int | str = response.status_code
                    retry = float(response.headers.get("retry-after", 0)) if polite and status == 503 else 0.0
                except httpx.HTTPError as e:  # a refused or dropped connection: an error of its own kind
                    status = type(e).__name__
                if t0 >= start:
                    load.answers.append((status, time.perf_counter() - t0))
                    if len(load.answers) in at:
                        at[len(load.answers)]()
                if retry:
                    await asyncio.sleep(min(retry * jitter.uniform(0.5, 1.5), max(end - time.perf_counter(), 0)))

    async def started() -> None:
        await asyncio.sleep(warmup)
        on_start()

    if not warmup:
        on_start()
    tasks = [asyncio.ensure_future(started() if warmup else asyncio.sleep(0)),
             asyncio.ensure_future(lag(load.lags, start))]
    await asyncio.gather(*(user() for _ in range(users)))
    load.seconds = time.perf_counter() - start
    for task in tasks:
        task.cancel()
    return load


async def lag(out: list[float], start: float, every: float = 0.01) -> None:
    """How late this process's event loop wakes up (seconds past each ``every``, from ``start`` on): the clients'
    own delay, which every latency they measure includes."""
    while True:
        t0 = time.perf_counter()
        await asyncio.sleep(every)
        if t0 >= start:
            out.append(time.perf_counter() - t0 - every)


def measure(server: Server, model: str, path: str, bodies: list[dict], users: int, seconds: float | None = None,
            requests: int | None = None, warmup: float = 0.0, at: dict | None = None,
            polite: bool = False) -> tuple[Load, float]:
    """One measurement after ``warmup`` seconds of the same load by the same users: (the load, the mean batch size
    over it)."""
    before: list[tuple[float, float]] = []
    load = asyncio.run(drive(server.url, path, bodies, users, seconds, requests, at, polite, warmup,
                             lambda: before.append(server.batches(model))))
    (requests_before, passes_before), (requests_after, passes_after) = before[0], server.batches(model)
    passes = passes_after - passes_before
    return load, (requests_after - requests_before) / passes if passes else float("nan")


# --- the report ------------------------------------------------------------------------------------------

HEADER = ("| case | server | users | requests | requests/s | p50 ms | p95 ms | p99 ms | errors | mean batch | "
          "server RSS MiB |\n|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")


def ms(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q) * 1000) if len(values) else float("nan")


def row(case: str, server: Server, users: int, load: Load, batch: float) -> str:
    """A line of the table: requests/s and the latencies count the 200 answers only."""
    ok = load.latencies()
    return (f"| {case} | {server.flags} | {users} | {len(load.answers):,} | {len(ok) / load.seconds:,.1f} | "
            f"{ms(ok, 50):.1f} | {ms(ok, 95):.1f} | {ms(ok, 99):.1f} | {load.errors()} | {batch:.2f} | "
            f"{server.rss_mb():,.0f} |")


@dataclass
class Report:
    rows: list[str] = field(default_factory=list)
    targets: list[tuple[str, str, bool | None]] = field(default_factory=list)  # (target, measured, met)
    notes: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        if not self.rows:
            print(HEADER)
        self.rows.append(line)
        print(line, flush=True)

    def target(self, what: str, measured: str, met: bool | None) -> None:
        self.targets.append((what, measured, met))
        print(f"  {what}: {measured} -> {verdict(met)}", flush=True)

    def markdown(self) -> str:
        out = [HEADER, *self.rows, "", "| target | measured | met |", "|---|---|---|"]
        out += [f"| {w} | {m} | {verdict(ok)} |" for w, m, ok in self.targets]
        return "\n".join(out + [""] + [f"- {n}" for n in self.notes])


def verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("yes" if met else "**no**")


def machine(backend: str) -> str:
    """CPU model and cores, versions, backend, date and load: the line every figure is printed with."""
    cpu = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    packages = ["rnnkit", "torch", "httpx"] + (["onnxruntime"] if backend == "onnx" else [])
    versions = [f"{p} {_version(p)}" for p in packages]
    return (f"{cpu.group(1).strip() if cpu else 'unknown CPU'}, {len(os.sched_getaffinity(0))} cores, "
            f"{', '.join(versions)}, backend {backend}, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} "
            f"UTC, load average {os.getloadavg()[0]:.2f}")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def write_log(path: Path, command: str, header: str, report: Report) -> None:
    """Append this measurement to the day's Markdown log."""
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        if new:
            f.write(f"# rnnkit serve load benchmark, {datetime.date.today()}\n\n")
        f.write(f"## {datetime.datetime.now(datetime.timezone.utc):%H:%M} UTC: `{command}`\n\n{header}; "
                f"ended at load average {os.getloadavg()[0]:.2f}\n\n{report.markdown()}\n\n")
    print(f"\nlogged to {path}")


# --- the cases -------------------------------------------------------------------------------------------

def sentences(run: Path, limit: int = 2000, seed: int = 0) -> list[str]:
    """Source sentences of the translator's data set (the column it was trained on), or the built-in list."""
    if not DATA.is_file():
        return SENTENCES
    config = json.loads((run / "config.json").read_text()) if (run / "config.json").is_file() else {}
    column = config.get("data", {}).get("source_column", 2) - 1
    lines = [line.split("\t") for line in DATA.read_text(encoding="utf-8").splitlines()]
    found = [cols[column] for cols in lines if len(cols) > column and 0 < len(cols[column]) <= 200]
    return random.Random(seed).sample(found, min(limit, len(found)))


TRANSLATE = "/v1/models/translate/translate"


def one_each(texts: list[str]) -> list[dict]:
    return [{"sentences": [t]} for t in texts]


def case_concurrency(ctx: "Context", report: Report) -> None:
    server = ctx.server()
    for users in ctx.args.users:
        load, batch = measure(server, "translate", TRANSLATE, ctx.bodies, users, ctx.args.seconds,
                              warmup=ctx.args.warmup)
        report.add(row("concurrency", server, users, load, batch))


def case_batching(ctx: "Context", report: Report) -> None:
    rates = {}
    for flags in ([], ["--max-batch", "1"]):
        server = ctx.server(flags)
        load, batch = measure(server, "translate", TRANSLATE, ctx.bodies, 32, ctx.args.seconds, warmup=ctx.args.warmup)
        report.add(row("batching", server, 32, load, batch))
        rates[server.flags] = (len(load.answers) / load.seconds, ms(load.latencies(), 99), load.errors())
        if flags:
            ctx.close(server)
    (batched, p99, errors), (alone, _, _) = rates["defaults"], rates["--max-batch 1"]
    report.target("batching: requests/s at --max-batch 32 over --max-batch 1, 32 users (>= 4x)",
                  f"{batched / alone:.2f}x ({batched:,.1f} / {alone:,.1f})", batched / alone >= 4)
    report.target("batching: p99 at --max-batch 32, 32 users (< 1 s)", f"{p99:.0f} ms (errors {errors})",
                  p99 < 1000 and errors == "0")


def case_ceiling(ctx: "Context", report: Report) -> None:
    """What batching can buy at most: the translator in this process, no HTTP, the same sentences translated one
    call each and 32 per call (the ``batching`` case's ratio stays below this one)."""
    call = direct_call(ctx.args.translate_run, ctx.args.backend)
    texts = [b["sentences"][0] for b in ctx.bodies[:256]]
    call(texts[:4])  # warm-up
    rates = {}
    for size in (1, 32):
        t0 = time.perf_counter()
        for i in range(0, len(texts), size):
            call(texts[i : i + size])
        rates[size] = len(texts) / (time.perf_counter() - t0)
    report.target("ceiling: sentences/s of the Python API at 32 per call over 1 per call, no server (no target)",
                  f"{rates[32] / rates[1]:.2f}x ({rates[32]:,.1f} / {rates[1]:,.1f})", None)


def case_overhead(ctx: "Context", report: Report) -> None:
    server, n = ctx.server(), ctx.args.overhead_requests
    body = sorted(ctx.bodies, key=lambda b: len(b["sentences"][0]))[len(ctx.bodies) // 2]  # a sentence of median length
    call = direct_call(ctx.args.translate_run, ctx.args.backend)
    before = server.batches("translate")
    load, direct = asyncio.run(alternate(server.url, body, lambda: call(body["sentences"]), n))
    after = server.batches("translate")
    report.add(row("overhead", server, 1, load, (after[0] - before[0]) / max(after[1] - before[1], 1)))
    served = ms(load.latencies(), 50)
    report.target("overhead: server p50 minus the Python API's p50, one sentence, 1 user (< 5 ms)",
                  f"{served - ms(direct, 50):.2f} ms (server {served:.2f} ms, API {ms(direct, 50):.2f} ms)",
                  served - ms(direct, 50) < 5)


async def alternate(url: str, body: dict, call: Callable[[], object], n: int) -> tuple[Load, np.ndarray]:
    """``n`` requests of ``body`` by one user, each followed by the same call in this process (alternating spreads
    the machine's noise over both), after 3 warm-up pairs: (the server's answers, the direct calls' seconds)."""
    load, direct = Load(), []
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as client:
        for i in range(n + 3):
            t0 = time.perf_counter()
            status = (await client.post(TRANSLATE, json=body)).status_code
            t1 = time.perf_counter()
            call()
            if i >= 3:
                load.answers.append((status, t1 - t0))
                direct.append(time.perf_counter() - t1)
                load.seconds += t1 - t0
    return load, np.array(direct)


def direct_call(run: Path, backend: str) -> Callable[[list[str]], object]:
    """The translator of ``run`` in this process, called as the server calls it (the run's own search)."""
    if backend == "onnx":
        from rnnkit import runtime

        exported = runtime.for_run(run)
        return lambda texts: exported.translate(texts)
    from rnnkit import translate

    tr = translate.load(run)
    return lambda texts: translate.translate(tr, texts, tr.config.search)


def case_overload(ctx: "Context", report: Report) -> None:
    a = ctx.args
    server = ctx.server(["--max-queue", "64"])
    idle, _ = measure(server, "translate", TRANSLATE, ctx.bodies[:1], 1, a.seconds / 4, warmup=a.warmup)
    load, batch = measure(server, "translate", TRANSLATE, ctx.bodies, a.overload_users, a.seconds, warmup=a.warmup,
                          polite=not a.impolite)
    report.add(row("overload", server, a.overload_users, load, batch))
    refused, others = load.latencies(503), {k: v for k, v in load.statuses.items() if k not in (200, 503)}
    report.target(f"overload: every 503 within 50 ms, {a.overload_users} users, --max-queue 64",
                  f"{len(refused):,} refused, p50 {ms(refused, 50):.1f} ms, p99 {ms(refused, 99):.1f} ms, "
                  f"max {ms(refused, 100):.1f} ms "
                  f"(the clients' own event-loop lag: p99 {ms(np.array(load.lags), 99):.1f} ms, "
                  f"max {ms(np.array(load.lags), 100):.1f} ms)", bool(len(refused)) and ms(refused, 100) < 50)
    report.target("overload: no status but 200 and 503, no crash",
                  f"other: {others or 'none'}; server {'running' if server.alive else 'EXITED'}",
                  not others and server.alive)
    ready = httpx.get(server.url + "/ready").status_code if server.alive else "no server"
    after, _ = measure(server, "translate", TRANSLATE, ctx.bodies[:1], 1, a.seconds / 4)
    before_ms, after_ms = ms(idle.latencies(), 50), ms(after.latencies(), 50)
    report.target("overload: afterwards /ready, and a 1-user p50 back to the idle one (within 25%)",
                  f"/ready {ready}; p50 idle {before_ms:.1f} ms, after {after_ms:.1f} ms",
                  ready == 200 and after_ms <= 1.25 * before_ms)
    ctx.close(server)


def case_soak(ctx: "Context", report: Report) -> None:
    n = ctx.args.soak_requests
    mark = min(2000, n // 10)
    server = ctx.server()
    rss: dict[int, float] = {}
    load, batch = measure(server, "translate", TRANSLATE, ctx.bodies, 16, requests=n,
                          at={mark: lambda: rss.setdefault(mark, server.rss_mb())})
    rss[n] = server.rss_mb()
    report.add(row("soak", server, 16, load, batch))
    growth = (rss[n] - rss[mark]) / rss[mark] * 100
    report.target(f"soak: errors in {n:,} requests, 16 users (0)", load.errors(), load.errors() == "0")
    report.target(f"soak: server RSS growth from request {mark:,} to {n:,} (< 5%)",
                  f"{rss[mark]:,.1f} -> {rss[n]:,.1f} MiB ({growth:+.2f}%)", growth < 5)


def case_streaming(ctx: "Context", report: Report) -> None:
    a = ctx.args
    server = ctx.server(runs={"lm": a.lm_run})
    body = {"prime": a.prime, "length": a.stream_length, "stream": True}
    first, total, pieces, failures = asyncio.run(stream_times(server.url, body, a.stream_requests))
    if not len(first):
        report.target("streaming: time to first token, 1 user (p50 < 50 ms)", f"no stream: {failures}", False)
        return
    report.add(f"| streaming | {server.flags} | 1 | {len(first) + len(failures):,} | {len(first) / total.sum():,.2f} | "
               f"{ms(total, 50):.1f} | {ms(total, 95):.1f} | {ms(total, 99):.1f} | {len(failures)} | 1 | "
               f"{server.rss_mb():,.0f} |")
    report.notes.append(f"streaming: {np.mean(pieces):.0f} events per request of --stream-length {a.stream_length}; "
                        f"the row's latencies are whole responses")
    report.target("streaming: time to first token of the language model, 1 user (p50 < 50 ms)",
                  f"p50 {ms(first, 50):.1f} ms, p95 {ms(first, 95):.1f} ms", ms(first, 50) < 50)


async def stream_times(url: str, body: dict, n: int) -> tuple[np.ndarray, np.ndarray, list[int], list]:
    """(seconds to the first ``data:`` event, seconds to ``event: done``, events per answer, failures) of
    ``n`` streamed sample requests, one at a time, read incrementally."""
    first, total, pieces, failures = [], [], [], []
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as client:
        for i in range(n + 2):  # two warm-up requests
            body = {**body, "seed": i}
            t0, t_first, events, done = time.perf_counter(), None, 0, False
            async with client.stream("POST", "/v1/models/lm/sample", json=body) as r:
                if r.status_code != 200 or not r.headers.get("content-type", "").startswith("text/event-stream"):
                    failures.append(f"{r.status_code}: {(await r.aread())[:200].decode(errors='replace')}")
                    continue
                async for line in r.aiter_lines():
                    if line.startswith("data:") and t_first is None:
                        t_first = time.perf_counter()
                    events += line.startswith("data:")
                    done = done or line == "event: done"
            if i >= 2 and done and t_first is not None:
                first.append(t_first - t0)
                total.append(time.perf_counter() - t0)
                pieces.append(events - 1)
            elif i >= 2:
                failures.append("no 'event: done'")
    return np.array(first), np.array(total), pieces, failures


@dataclass
class Context:
    """The options, the request bodies and the servers started so far (one per set of runs and flags)."""

    args: argparse.Namespace
    bodies: list[dict]
    servers: dict[tuple, Server] = field(default_factory=dict)

    def server(self, flags: list[str] = (), runs: dict[str, Path] | None = None) -> Server:
        runs = runs or {"translate": self.args.translate_run}
        key = (tuple(runs.items()), tuple(flags))
        if key not in self.servers:
            self.servers[key] = Server(runs, self.args.backend, list(flags)).__enter__()
        return self.servers[key]

    def close(self, server: Server) -> None:
        self.servers = {k: s for k, s in self.servers.items() if s is not server}
        server.__exit__()

    def close_all(self) -> None:
        for s in list(self.servers.values()):
            self.close(s)


RUNNERS = {"concurrency": case_concurrency, "batching": case_batching, "ceiling": case_ceiling, "overhead": case_overhead,
           "overload": case_overload, "soak": case_soak, "streaming": case_streaming}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="+", choices=CASES, default=CASES)
    p.add_argument("--translate-run", type=Path, default=Path("runs/export-benchmark/translate"))
    p.add_argument("--lm-run", type=Path, default=Path("runs/export-benchmark/lm"))
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    p.add_argument("--seconds", type=float, default=20.0, help="measured seconds per load (default 20)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of the same load before each measurement")
    p.add_argument("--users", type=int, nargs="+", default=[1, 4, 16, 64], help="the concurrency case's users")
    p.add_argument("--overhead-requests", type=int, default=300)
    p.add_argument("--overload-users", type=int, default=512)
    p.add_argument("--impolite", action="store_true",
                   help="overload users send again at once after a 503 instead of waiting as Retry-After asks")
    p.add_argument("--soak-requests", type=int, default=20_000)
    p.add_argument("--stream-requests", type=int, default=50)
    p.add_argument("--stream-length", type=int, default=200, help="tokens each streamed sample generates")
    p.add_argument("--prime", default="alice ", help="the streamed samples' prime")
    p.add_argument("--log", type=Path, default=ROOT / "benchmarks" / "results" / f"serve-{datetime.date.today()}.md",
                   help="the Markdown log this measurement is appended to ('-': none)")
    args = p.parse_args()
    for run in [args.translate_run] * (set(args.cases) != {"streaming"}) + [args.lm_run] * ("streaming" in args.cases):
        if not (run / "config.json").is_file():
            raise SystemExit(f"{run} is no trained run; train one (python benchmarks/export.py --train-only) or "
                             f"pass --translate-run / --lm-run")
    header = machine(args.backend)
    print(header, flush=True)
    ctx, report = Context(args, one_each(sentences(args.translate_run))), Report()
    try:
        for case in [c for c in CASES if c in args.cases]:
            RUNNERS[case](ctx, report)
    finally:
        ctx.close_all()
    print("\n" + report.markdown())
    if str(args.log) != "-":
        write_log(args.log, "python " + shlex.join(sys.argv), header, report)


if __name__ == "__main__":
    main()
