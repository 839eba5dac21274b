"""The paths users hit, each beside its ceiling measured in the same run (alternating rounds,
medians), on a catalog of N assets loaded with COPY (assets_service.catalog):

  - asset detail through the gateway, cached (one id: the gateway's catalog cache) and uncached
    (random ids of the catalog), vs (a) a bare FastAPI JSON endpoint;
  - browse (`?asset_type=music&sort=price&per_page=20`) and full-text search (`?q=aurora`),
    cached (the same URL) and uncached (every request a distinct query: a random lower price
    bound below every price, or a random word), vs a bare FastAPI endpoint serving the same
    page's JSON from memory (orjson per request: the serialization ceiling);
  - deep pages: a random keyset cursor anywhere in the catalog, uncached;
  - uncached browse, search, deep page and detail at one connection (p50) and 32 (p99);
  - sign-in per second (POST /auth/nonce + a SIWE signature + POST /auth/login, 8 clients);
  - the gateway as 2 processes vs 1 (two gateways on two ports, two wrk at half the
    connections each, like two pods behind one Service) on cached and uncached browse.

Stack: PostgreSQL, Redis, auth and assets (one process each, mutual TLS), the gateway; rate
limits raised. Load: wrk, 1 thread. Run:
  .venv/bin/python bench/user_paths.py [--rows 10000] [--seconds 5] [--rounds 3] [--profile 10]
(`make bench` runs it at 10,000 and 1,000,000 assets: BENCH_CATALOG_ROWS.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assets_service import catalog, domain  # noqa: E402
from ipheron_devstack.stack import SERVICES, Stack  # noqa: E402
from ipheron_libs import db  # noqa: E402
from ipheron_libs.devstack_ports import free_port  # noqa: E402

from bench.run import Result, login, uvicorn, wait_http  # noqa: E402

UNLIMITED = "1000000000/minute"
BROWSE = "/api/v1/assets?asset_type=music&sort=price&per_page=20"
SEARCH = "/api/v1/assets?q=aurora&per_page=20"
PROFILES = ROOT / "bench" / "profiles"


@dataclass
class Measured:
    name: str
    results: list[Result]

    @property
    def median(self) -> Result:
        return sorted(self.results, key=lambda r: r.rps)[len(self.results) // 2]


def _lua(path: Path, urls: list[str]) -> Path:
    """A wrk script requesting a random one of `urls` each time."""
    body = ",\n".join('"' + u.replace('"', '\\"') + '"' for u in urls)
    path.write_text("local urls = {\n" + body + "\n}\nmath.randomseed(os.time())\n"
                    "request = function()\n  return wrk.format('GET', urls[math.random(#urls)])\nend\n")
    return path


def _wrk(name: str, url: str, seconds: int, connections: int, script: Path | None = None) -> Result:
    """wrk (1 thread) after a 1 s warm-up; `script` picks each request's path."""
    extra = ["-s", str(script)] if script else []
    base = ["wrk", "-t1", f"-c{connections}", "--latency", *extra, url]
    subprocess.run([*base[:3], "-d1s", *base[3:]], capture_output=True, check=True)
    out = subprocess.run([*base[:3], f"-d{seconds}s", *base[3:]], capture_output=True, text=True, check=True).stdout
    return _parse(name, out)


def _parse(name: str, out: str) -> Result:
    import re

    from bench.run import _ms

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Result(name, rps, p50, p99, int(m.group(1)) if m else 0)


def _two_wrk(name: str, urls: tuple[str, str], seconds: int, connections: int, script: Path | None) -> Result:
    """Two wrk at once (half the connections each), one per gateway process: summed req/s."""
    extra = ["-s", str(script)] if script else []
    half = max(1, connections // 2)
    for u in urls:
        subprocess.run(["wrk", "-t1", f"-c{half}", "-d1s", *extra, u], capture_output=True, check=True)
    procs = [subprocess.Popen(["wrk", "-t1", f"-c{half}", f"-d{seconds}s", "--latency", *extra, u],
                              stdout=subprocess.PIPE, text=True) for u in urls]
    outs = [_parse(name, p.communicate()[0]) for p in procs]
    return Result(name, sum(r.rps for r in outs), max(r.p50_ms for r in outs), max(r.p99_ms for r in outs),
                  sum(r.non2xx for r in outs))


def sign_ins(base: str, seconds: float, clients: int = 8) -> tuple[float, float]:
    """Sign-ins per second (nonce + SIWE login, each with a fresh wallet) and their p50 ms."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    def loop() -> None:
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            login(base)
            latencies.append((time.perf_counter() - t0) * 1000)

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(lambda _: loop(), range(clients)))
    return len(latencies) / (time.monotonic() - start), statistics.median(latencies) if latencies else 0.0


def _start_gateway2(stack: Stack, port: int) -> subprocess.Popen[bytes]:
    from ipheron_libs import access

    env = stack.base_env()
    env.update({"GATEWAY_PORT": str(port), "GATEWAY_HOST": "127.0.0.1"})
    if stack.tls_dir is not None:
        env["IPHERON_TLS_DIR"] = str(stack.tls_dir / access.GATEWAY)
    return stack._spawn("gateway2", [sys.executable, "-m", "ipheron_gateway"], env)


def _profile(stack: Stack, seconds: float, label: str) -> list[subprocess.Popen[bytes]]:
    """py-spy (if installed) the gateway and assets for `seconds`: flame graphs (SVG) and raw stacks."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        return []
    PROFILES.mkdir(parents=True, exist_ok=True)
    spies = []
    for name in ("gateway", "assets"):
        for fmt, ext in (("flamegraph", "svg"), ("raw", "txt")):
            spies.append(subprocess.Popen([exe, "record", "--pid", str(stack.processes[name].pid), "--duration",
                                           str(int(seconds)), "--format", fmt, "--nonblocking",
                                           "--output", str(PROFILES / f"{label}-{name}.{ext}")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return spies


def run(rows: int, seconds: int, rounds: int, connections: int, profile_s: float = 0.0) -> str:
    """The whole bench at one catalog size; its markdown section."""
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)  # embedded servers of its own, never a shell's database
    tmp = Path(tempfile.mkdtemp(prefix="ipheron-bench-paths-"))
    wanted = {"auth", "assets"}
    env = {"LOG_LEVEL": "WARNING", "IPHERON_ENV": "test", "ASSETS_SAGA_WORKER": "false"}
    env |= {f"GATEWAY_RATELIMIT_{g}": UNLIMITED for g in ("AUTH", "DEFAULT", "ANALYTICS", "ASSET_WRITES",
                                                          "TRANSACTIONS")}
    stack = Stack.for_tests(tmp / "data", services=tuple(s for s in SERVICES if s.name in wanted),
                            log_dir=tmp / "logs", extra_env=env)
    procs: list[subprocess.Popen[bytes]] = []
    measured: dict[str, Measured] = {}
    one_conn: dict[str, Result] = {}
    try:
        stack.start_infra()
        for spec in stack.services:
            stack.start_service(spec)
        for spec in stack.services:
            stack.wait_service(spec)
        engine = db.make_engine(stack.service_urls["assets"], "assets", pool_size=1, max_overflow=0)
        load_s = catalog.load(engine, rows, seed=11)
        with engine.connect() as conn:
            from sqlalchemy import text

            ids = [str(r[0]) for r in conn.execute(text("SELECT id FROM assets TABLESAMPLE SYSTEM (5) LIMIT 20000"))]
            db_mb = conn.execute(text("SELECT pg_total_relation_size('assets') + "
                                      "pg_total_relation_size('asset_creators')")).scalar_one() / 2**20
        engine.dispose()
        stack.start_gateway()
        port2 = free_port()
        procs.append(_start_gateway2(stack, port2))
        gw, gw2 = stack.gateway_url, f"http://127.0.0.1:{port2}"
        wait_http(gw + "/health/live")
        wait_http(gw2 + "/health/live")

        # The ceilings: a bare JSON endpoint, and the very pages the gateway answers, from memory.
        pages = {name: httpx.get(gw + path, timeout=30).json() for name, path in (("browse", BROWSE),
                                                                                   ("search", SEARCH))}
        page_dir = tmp / "pages"
        page_dir.mkdir()
        for name, body in pages.items():
            (page_dir / f"{name}.json").write_bytes(orjson.dumps(body))
        port_a, port_p = free_port(), free_port()
        procs.append(uvicorn("bench.bare_http:app", port_a))
        procs.append(uvicorn("bench.page_http:app", port_p, {"BENCH_PAGE_DIR": str(page_dir)}))
        bare, page = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_p}"
        wait_http(bare + "/ping")
        wait_http(page + "/page/browse")

        rng = random.Random(5)
        detail_script = _lua(tmp / "detail.lua", [f"/api/v1/assets/{i}" for i in ids])
        # A price bound below every price: the same page, a distinct query (cache key) each time.
        browse_script = _lua(tmp / "browse.lua", [f"{BROWSE}&min_price=0.0000000{rng.randint(1, 99999999)}"
                                                  for _ in range(20000)])
        search_script = _lua(tmp / "search.lua", [
            f"/api/v1/assets?q={rng.choice(catalog.WORDS)}&per_page=20&min_price=0.0000000{rng.randint(1, 99999999)}"
            for _ in range(20000)])
        start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        deep_script = _lua(tmp / "deep.lua", [
            "/api/v1/assets?per_page=20&cursor=" + domain.encode_cursor(
                "created", True, start + dt.timedelta(seconds=rng.randint(0, 730 * 86400)),
                "ffffffff-ffff-ffff-ffff-ffffffffffff") for _ in range(20000)])
        music_price_deep = _lua(tmp / "deep_price.lua", [
            f"{BROWSE}&cursor=" + domain.encode_cursor("price", False, Decimal(rng.randint(1, 50000)) / 10000,
                                                      "00000000-0000-0000-0000-000000000000")
            for _ in range(20000)])
        one = ids[0]
        plan = [
            ("a bare FastAPI JSON (ceiling of detail)", bare + "/ping", None),
            ("detail, cached (gateway cache)", f"{gw}/api/v1/assets/{one}", None),
            ("detail, uncached (random ids)", gw + "/", detail_script),
            ("browse ceiling: bare FastAPI, same page JSON", page + "/page/browse", None),
            ("browse, cached", gw + BROWSE, None),
            ("browse, uncached (distinct queries)", gw + "/", browse_script),
            ("browse, deep keyset page (random cursors, music by price)", gw + "/", music_price_deep),
            ("newest, deep keyset page (random cursors)", gw + "/", deep_script),
            ("search ceiling: bare FastAPI, same page JSON", page + "/page/search", None),
            ("search q=aurora, cached", gw + SEARCH, None),
            ("search, uncached (random word)", gw + "/", search_script),
        ]
        measured = {name: Measured(name, []) for name, _, _ in plan}
        spies: list[subprocess.Popen[bytes]] = []  # py-spy of the path being measured
        for round_no in range(rounds):
            for name, url, script in plan:
                label = {"browse, cached": "browse-cached", "browse, uncached (distinct queries)": "browse-uncached",
                         "detail, cached (gateway cache)": "detail-cached"}.get(name)
                if profile_s and round_no == 0 and label:
                    spies = _profile(stack, min(profile_s, seconds), f"{label}-{rows}")
                measured[name].results.append(_wrk(name, url, seconds, connections, script))
                for spy in spies:
                    spy.wait(timeout=120)
                spies = []
        for name, url, script in plan:
            if "uncached" in name or "deep" in name:
                one_conn[name] = _wrk(name, url, seconds, 1, script)
        scale: dict[str, list[Result]] = {
            "browse, cached: 1 gateway": [], "browse, cached: 2 gateways": [],
            "browse, uncached: 1 gateway": [], "browse, uncached: 2 gateways": [],
        }
        for _ in range(rounds):
            scale["browse, cached: 1 gateway"].append(_wrk("1", gw + BROWSE, seconds, connections))
            scale["browse, cached: 2 gateways"].append(_two_wrk("2", (gw + BROWSE, gw2 + BROWSE), seconds,
                                                                connections, None))
            scale["browse, uncached: 1 gateway"].append(_wrk("1", gw + "/", seconds, connections, browse_script))
            scale["browse, uncached: 2 gateways"].append(_two_wrk("2", (gw + "/", gw2 + "/"), seconds, connections,
                                                                  browse_script))
        logins_s, login_p50 = sign_ins(gw, seconds)
    finally:
        for p in procs:
            p.terminate()
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return report(rows, load_s, db_mb, measured, one_conn, scale, logins_s, login_p50, seconds, rounds, connections)


def report(rows: int, load_s: float, db_mb: float, measured: dict[str, Measured], one_conn: dict[str, Result],
           scale: dict[str, list[Result]], logins_s: float, login_p50: float, seconds: int, rounds: int,
           connections: int) -> str:
    m = {name: x.median for name, x in measured.items()}
    lines = [f"### {rows:,} assets (loaded by COPY in {load_s:.0f} s; assets + creators {db_mb:,.0f} MB)", "",
             f"wrk -t1 -c{connections} -d{seconds}s, {rounds} alternating rounds, median round; p50 at 1 connection "
             "for the uncached paths.", "",
             "| path | req/s | p50 ms | p99 ms | non-2xx | p50 ms at 1 conn |", "|---|---|---|---|---|---|"]
    for name, r in m.items():
        single = one_conn.get(name)
        lines.append(f"| {name} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.non2xx} | "
                     f"{f'{single.p50_ms:.2f}' if single else ''} |")

    def ratio(a: str, b: str) -> float:
        return m[a].rps / m[b].rps if m[b].rps else 0.0

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    det = ratio("detail, cached (gateway cache)", "a bare FastAPI JSON (ceiling of detail)")
    brw = ratio("browse, cached", "browse ceiling: bare FastAPI, same page JSON")
    sea = ratio("search q=aurora, cached", "search ceiling: bare FastAPI, same page JSON")
    lines += ["", f"cached detail / bare = {det:.2f} (target >= 0.5: {verdict(det >= 0.5)})",
              f"cached browse / its serialization ceiling = {brw:.2f} (target >= 0.5: {verdict(brw >= 0.5)})",
              f"cached search / its serialization ceiling = {sea:.2f} (target >= 0.5: {verdict(sea >= 0.5)})"]
    for name in ("browse, uncached (distinct queries)", "browse, deep keyset page (random cursors, music by price)",
                 "newest, deep keyset page (random cursors)", "search, uncached (random word)",
                 "detail, uncached (random ids)"):
        single = one_conn.get(name)
        p50 = single.p50_ms if single else float("nan")
        p99 = m[name].p99_ms
        lines.append(f"{name}: p50 {p50:.1f} ms at 1 connection (target <= 10: {verdict(p50 <= 10)}), "
                     f"p99 {p99:.1f} ms at {connections} (target <= 50: {verdict(p99 <= 50)})")
    med = {k: sorted(v, key=lambda r: r.rps)[len(v) // 2] for k, v in scale.items()}
    for kind in ("cached", "uncached"):
        one_gw, two_gw = med[f"browse, {kind}: 1 gateway"], med[f"browse, {kind}: 2 gateways"]
        lines.append(f"gateway 2 processes vs 1, browse {kind}: {two_gw.rps:,.0f} vs {one_gw.rps:,.0f} req/s = "
                     f"{two_gw.rps / one_gw.rps if one_gw.rps else 0:.2f}x (2 cores, wrk on the same cores)")
    lines.append(f"sign-in (nonce + SIWE login, 8 clients signing on this machine): {logins_s:.1f}/s, "
                 f"p50 {login_p50:.0f} ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the user paths beside their ceilings")
    parser.add_argument("--rows", default=os.environ.get("BENCH_CATALOG_ROWS", "10000"),
                        help="catalog sizes, comma-separated (BENCH_CATALOG_ROWS, default %(default)s)")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--profile", type=float, default=0.0, help="py-spy gateway and assets for N seconds of "
                        "the uncached browse (flame graphs in bench/profiles/)")
    args = parser.parse_args(argv)
    for rows in (int(r) for r in args.rows.split(",")):
        sys.stdout.write(run(rows, args.seconds, args.rounds, args.connections, args.profile) + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
