"""The MeTTa engine: a pool of interpreter worker processes and a result cache.

Why processes: hyperon 0.2.10's space index aborts the whole process (a Rust
panic, not an exception) in some conditions (hyperon-experimental #1076), a
`MeTTa()` costs ~14 ms and leaks, and the interpreter is not documented as
thread-safe. So each worker process owns exactly one interpreter with the whole
knowledge base loaded, serves one request at a time, and is replaced when it
dies or hangs; the service process never runs MeTTa on a request path.

A request is a tuple of rule queries (e.g. ``(region-factor europe)``) plus the
request's data for the grounded functions; the worker runs them in one
interpreter pass and checks every answer has the shape ``(rule <name> <value>)``
with a number or symbol value. An unreduced expression is an error, never a price.
Answers are cached by (knowledge-base version, queries, data); a reload of edited
`.metta` files swaps in fresh workers and drops the cache.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import signal
import socket
import subprocess
import sys
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Self

from ipheron_libs.errors import DomainError, Unavailable
from ipheron_libs.metrics import CACHE_HITS, CACHE_MISSES

from ai_agents_service.kb import KB_DIR, KbError, KbInfo, kb_files, kb_fingerprint, validate_kb

log = logging.getLogger(__name__)

Ctx = tuple[tuple[str, str], ...]


class WorkerDied(Unavailable):
    """The worker process serving a request died (killed, crashed, or aborted by hyperon)."""


class RuleNotReduced(DomainError):
    """A rule query did not reduce to ``(rule <name> <value>)``: a knowledge-base fault."""


@dataclass(frozen=True)
class RuleResult:
    """One fired rule: its name and its value (a number or a symbol name)."""

    name: str
    value: float | int | str
    query: str


# ---------------------------------------------------------------- worker side


_RULE_TEXT = re.compile(r'\(rule ([^\s()"]+) ([^\s()"$]+)\)')
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def _rule_value(atom: Any) -> tuple[str, float | int | str] | None:
    """(name, value) when `atom` is ``(rule <Symbol> <Number|Symbol>)``, else None.

    Read from the atom's text: one call across the FFI instead of one per part
    (each costs ~20 us). In the KB's syntax a number token always parses as a
    grounded number, so a numeric text is a number and anything else a symbol.
    """
    match = _RULE_TEXT.fullmatch(str(atom))
    if match is None:
        return None
    name, value = match.groups()
    if _NUMBER.fullmatch(value):
        return name, int(value) if value.lstrip("-").isdigit() else float(value)
    return name, value


def _convert(query: str, atoms: list[Any]) -> tuple[str, float | int | str]:
    if len(atoms) != 1:
        raise RuleNotReduced(f"{query} gave {len(atoms)} answers instead of one: {atoms}")
    result = _rule_value(atoms[0])
    if result is None:
        raise RuleNotReduced(f"{query} did not reduce to (rule <name> <value>): got {atoms[0]}")
    return result


def _worker_main(conn: Connection, kb_dir: str) -> None:
    """Entry point of one interpreter process: load the KB once, then serve requests."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    try:
        import resource

        # A hyperon abort is expected now and then (#1076): no core file for each one.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
    from hyperon import MeTTa

    from ai_agents_service.kb import load_kb, register_grounded

    ctx: dict[str, Any] = {}
    try:
        metta = MeTTa()
        register_grounded(metta, ctx)
        info = load_kb(metta, kb_files(Path(kb_dir)))
    except KbError as exc:
        conn.send(("ready", False, str(exc)))
        return
    conn.send(("ready", True, info.version))

    from hyperon import E, S, V
    from hyperon.atoms import AtomKind

    space = metta.space()
    result_var = V("__rule_result")
    result_name = result_var.get_name()
    # query text -> (parsed atom, equation pattern when the direct path applies)
    parsed: dict[str, tuple[Any, Any | None]] = {}

    def prepare(query: str) -> tuple[Any, Any | None]:
        entry = parsed.get(query)
        if entry is None:
            atom = metta.parse_single(query)
            plain = atom.get_metatype() == AtomKind.EXPR and all(
                c.get_metatype() != AtomKind.EXPR for c in atom.get_children())
            entry = (atom, E(S("="), atom, result_var) if plain else None)
            if len(parsed) < 10_000:
                parsed[query] = entry
        return entry

    def run(queries: Sequence[str], data: Ctx) -> list[tuple[str, float | int | str]]:
        ctx.clear()
        ctx.update(data)
        out = []
        for query in queries:
            atom, pattern = prepare(query)
            if pattern is not None:
                # Direct path for a table rule: the equation's right-hand side, matched as
                # the interpreter's first step would, is already the normal form
                # (rule <name> <value>) (the KB defines no equation for `rule`).
                found = [b[result_name] for b in space.query(pattern)]
                if len(found) == 1:
                    result = _rule_value(found[0])
                    if result is not None:
                        out.append(result)
                        continue
            out.append(_convert(query, metta.evaluate_atom(atom)))
        return out

    while True:
        try:
            req_id, op, payload = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if op == "eval":
                out: Any = run(payload[0], payload[1])
            elif op == "eval_many":
                out = [run(q, d) for q, d in payload]
            elif op == "pid":
                out = os.getpid()
            else:
                raise ValueError(f"unknown op {op!r}")
            conn.send((req_id, True, out))
        except RuleNotReduced as exc:
            conn.send((req_id, False, ("rule", exc.message)))
        except Exception as exc:  # noqa: BLE001 - reported to the caller; the worker stays usable
            conn.send((req_id, False, ("error", f"{type(exc).__name__}: {exc}")))


# ---------------------------------------------------------------- service side


class _Worker:
    """One interpreter process as seen from the service's event loop."""

    def __init__(self, process: subprocess.Popen[bytes], conn: Connection, generation: int) -> None:
        self.process = process
        self.conn = conn
        self.generation = generation
        self.ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.dead = False

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def kill(self) -> None:
        self.dead = True
        try:
            asyncio.get_running_loop().remove_reader(self.conn.fileno())
        except (OSError, ValueError, RuntimeError):
            pass
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.error("metta worker %s did not exit after SIGKILL", self.pid)
        self.conn.close()


class ResultCache:
    """A bounded LRU map whose whole content is dropped when the facts change."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.generation = 0
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Any) -> Any | None:
        if self.maxsize <= 0:
            return None
        value = self._data.get(key)
        if value is None:
            self.misses += 1
            CACHE_MISSES.labels(cache="metta_rules").inc()
            return None
        self._data.move_to_end(key)
        self.hits += 1
        CACHE_HITS.labels(cache="metta_rules").inc()
        return value

    def put(self, key: Any, value: Any) -> None:
        if self.maxsize <= 0:
            return
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def invalidate(self) -> None:
        """Forget everything: called when the facts or the rules behind the answers change."""
        self.generation += 1
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class RulePool:
    """Worker processes running the knowledge base, with replacement, reload and a cache."""

    def __init__(
        self,
        size: int = 2,
        kb_dir: Path = KB_DIR,
        call_timeout: float = 5.0,
        start_timeout: float = 60.0,
        cache_size: int = 4096,
    ) -> None:
        if size < 1:
            raise ValueError("pool size must be >= 1")
        self.size = size
        self.kb_dir = kb_dir
        self.call_timeout = call_timeout
        self.start_timeout = start_timeout
        self.cache = ResultCache(cache_size)
        self.kb: KbInfo | None = None
        self.replaced = 0
        self._generation = 0
        self._workers: list[_Worker] = []
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    # -- life cycle

    async def start(self) -> None:
        """Validate the KB (KbError with file and line on a fault), then start the workers."""
        self.kb = await asyncio.to_thread(validate_kb, self.kb_dir)
        workers = await asyncio.gather(*(self._spawn(self._generation) for _ in range(self.size)))
        for worker in workers:
            self._idle.put_nowait(worker)
        log.info("rule pool ready: %s workers, kb %s (%s forms)", self.size, self.kb.version, self.kb.atom_count)

    async def close(self) -> None:
        """Stop every worker process (also those being replaced)."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for worker in list(self._workers):
            worker.kill()
        self._workers.clear()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for operations and tests)."""
        return [w.pid for w in self._workers if not w.dead and w.pid is not None and w.ready.done()
                and not w.ready.cancelled() and w.ready.exception() is None]

    def in_flight(self) -> int:
        """Requests sent to a worker and not answered yet (for operations and tests)."""
        return sum(len(w.pending) for w in self._workers)

    async def _spawn(self, generation: int) -> _Worker:
        # A fresh interpreter (not fork): the service process holds gRPC threads, and a
        # fresh `python -m` does not re-import whatever script started the service.
        parent_sock, child_sock = socket.socketpair()
        try:
            process = await asyncio.to_thread(
                subprocess.Popen,
                [sys.executable, "-m", "ai_agents_service.engine", str(child_sock.fileno()), str(self.kb_dir)],
                pass_fds=(child_sock.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        finally:
            child_sock.close()  # so the parent sees EOF when the child dies
        parent_conn = Connection(parent_sock.detach())
        worker = _Worker(process, parent_conn, generation)
        self._workers.append(worker)
        asyncio.get_running_loop().add_reader(parent_conn.fileno(), self._on_readable, worker)
        try:
            version = await asyncio.wait_for(asyncio.shield(worker.ready), self.start_timeout)
        except BaseException:
            self._retire(worker)
            raise
        log.info("metta worker %s ready (kb %s)", worker.pid, version)
        return worker

    def _on_readable(self, worker: _Worker) -> None:
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                if message[0] == "ready":
                    _, ok, detail = message
                    if not worker.ready.done():
                        if ok:
                            worker.ready.set_result(detail)
                        else:
                            worker.ready.set_exception(KbError("<worker>", 0, detail))
                    continue
                req_id, ok, result = message
                future = worker.pending.pop(req_id, None)
                if future is None or future.done():
                    continue
                if ok:
                    future.set_result(result)
                else:
                    kind, detail = result
                    future.set_exception(RuleNotReduced(detail) if kind == "rule" else DomainError(detail))
        except (EOFError, OSError):
            self._on_death(worker)

    def _on_death(self, worker: _Worker) -> None:
        if worker.dead:
            return
        was_ready = worker.ready.done() and not worker.ready.cancelled() and worker.ready.exception() is None
        log.error("metta worker %s died (exit code %s)", worker.pid, worker.process.poll())
        error = WorkerDied("the rule interpreter serving this request died")
        if not worker.ready.done():
            worker.ready.set_exception(error)
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(error)
        worker.pending.clear()
        self._retire(worker)
        # A worker that dies while starting is the spawner's failure to handle (no loop).
        if was_ready and worker.generation == self._generation:
            self._replace(worker.generation)

    def _retire(self, worker: _Worker) -> None:
        worker.kill()
        if worker in self._workers:
            self._workers.remove(worker)

    def _replace(self, generation: int) -> None:
        if self._closed:
            return
        self.replaced += 1

        async def spawn() -> None:
            delay = 0.5
            while not self._closed and generation == self._generation:
                try:
                    self._idle.put_nowait(await self._spawn(generation))
                    log.info("metta worker replaced")
                    return
                except Exception:
                    log.exception("could not start a replacement metta worker; retrying in %ss", delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)

        task = asyncio.get_running_loop().create_task(spawn())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- calls

    async def _call(self, op: str, payload: Any, *, retry: bool = True) -> Any:
        """Send one request to an idle worker; rule evaluation is pure, so a request whose
        worker died is retried once on another (or on the replacement)."""
        try:
            return await self._call_once(op, payload)
        except WorkerDied:
            if not retry or self._closed:
                raise
            log.warning("retrying %s after its worker died", op)
            return await self._call_once(op, payload)

    async def _call_once(self, op: str, payload: Any) -> Any:
        if self._closed:
            raise Unavailable("the rule engine is stopped")
        while True:
            try:
                worker = await asyncio.wait_for(self._idle.get(), self.call_timeout)
            except TimeoutError:
                raise Unavailable("every rule interpreter is busy; retry later") from None
            if not worker.dead and worker.process.poll() is not None:
                self._on_death(worker)  # died while idle: nobody's request is lost
                continue
            if not worker.dead and worker.generation == self._generation:
                break
            if not worker.dead:
                self._retire(worker)  # an old-KB worker after a reload
        req_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        worker.pending[req_id] = future
        try:
            worker.conn.send((req_id, op, payload))
            result = await asyncio.wait_for(future, self.call_timeout)
        except (OSError, EOFError):
            self._on_death(worker)
            raise WorkerDied("the rule interpreter serving this request died") from None
        except TimeoutError:
            log.error("metta worker %s timed out on %s; replacing it", worker.pid, op)
            worker.pending.pop(req_id, None)
            self._retire(worker)
            self._replace(worker.generation)
            raise Unavailable("the rule interpreter timed out") from None
        except BaseException:
            # A rule error, or the caller gave up (cancelled): the worker is fine; a late
            # answer to this request is dropped because its id is no longer pending.
            worker.pending.pop(req_id, None)
            self._release(worker)
            raise
        self._release(worker)
        return result

    def _release(self, worker: _Worker) -> None:
        if worker.dead:
            return
        if worker.generation != self._generation or self._closed:
            self._retire(worker)
        else:
            self._idle.put_nowait(worker)

    async def evaluate(self, queries: Sequence[str], data: dict[str, str] | None = None) -> list[RuleResult]:
        """Run rule queries in one interpreter pass; every answer is a checked (rule name value)."""
        ctx: Ctx = tuple(sorted((data or {}).items()))
        key = (tuple(queries), ctx)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        raw = await self._call("eval", (tuple(queries), ctx))
        results = [RuleResult(name, value, q) for q, (name, value) in zip(queries, raw, strict=True)]
        self.cache.put(key, results)
        return results

    async def evaluate_many(
        self, requests: Sequence[tuple[Sequence[str], dict[str, str] | None]]
    ) -> list[list[RuleResult]]:
        """Several independent evaluations; cache misses go to one worker in one message."""
        keys = [(tuple(q), tuple(sorted((d or {}).items()))) for q, d in requests]
        out: list[list[RuleResult] | None] = [self.cache.get(k) for k in keys]
        missing = sorted({k for k, o in zip(keys, out, strict=True) if o is None})
        if missing:
            raw = await self._call("eval_many", missing)
            fresh = {
                k: [RuleResult(name, value, q) for q, (name, value) in zip(k[0], r, strict=True)]
                for k, r in zip(missing, raw, strict=True)
            }
            for k, v in fresh.items():
                self.cache.put(k, v)
            out = [o if o is not None else fresh[k] for k, o in zip(keys, out, strict=True)]
        return [o for o in out if o is not None]

    async def worker_pid_for_next_call(self) -> int:
        """Ask a worker for its pid through the normal request path (used to aim a kill in tests)."""
        return int(await self._call("pid", None, retry=False))

    # -- reload

    def kb_changed(self) -> bool:
        """Whether the .metta files differ from the loaded knowledge base."""
        try:
            return self.kb is not None and kb_fingerprint(kb_files(self.kb_dir)) != self.kb.version
        except (OSError, KbError):
            return True

    async def reload(self) -> bool:
        """Load edited .metta files: validate, start fresh workers, retire the old, drop the cache.

        A broken edit is logged with its file and line and the running rules stay.
        """
        try:
            info = await asyncio.to_thread(validate_kb, self.kb_dir)
        except KbError as exc:
            log.error("knowledge base not reloaded: %s", exc)
            return False
        generation = self._generation + 1
        try:
            fresh = await asyncio.gather(*(self._spawn(generation) for _ in range(self.size)))
        except Exception:
            log.exception("knowledge base not reloaded: workers failed to start")
            return False
        self._generation = generation
        self.kb = info
        self.cache.invalidate()
        for worker in fresh:
            self._idle.put_nowait(worker)
        for worker in list(self._workers):
            if worker.generation != generation and not worker.pending:
                self._retire(worker)
        log.info("knowledge base reloaded: version %s", info.version)
        return True

    async def reload_if_changed(self) -> bool:
        """Reload the knowledge base when a .metta file's content changed; True if it did."""
        if self._closed or not self.kb_changed():
            return False
        return await self.reload()

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the .metta files' content and reload on change (`make run` enables this)."""
        while not self._closed:
            await asyncio.sleep(interval)
            await self.reload_if_changed()


if __name__ == "__main__":  # a worker process: python -m ai_agents_service.engine FD KB_DIR
    _worker_main(Connection(int(sys.argv[1])), sys.argv[2])
