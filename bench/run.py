"""`make bench`: requests/s and p50/p99, in one run on this machine, of
  (a) a bare uvicorn + FastAPI JSON endpoint (the HTTP ceiling),
  (b) a minimal reference pipeline: bare FastAPI -> bare grpc.aio -> one PK SELECT,
  (c) the real path: gateway (JWT check, rate limit, telemetry, error mapping)
      -> auth service -> PostgreSQL, for GET /api/v1/users/{id},
then prints c/a and c/b; then the user paths (bench/user_paths.py: asset detail, browse, search,
deep pages, sign-in, 2 gateway processes vs 1, each beside its ceiling, at 10,000 and 1,000,000
assets); then purchases per second end to end (bench/purchases.py: prepare →
sign → submit → recorded, from 32 funded wallets, on the embedded chain through the gateway,
with a catalog-read baseline and the chain's own native-transfer rate in the same run), and
writes bench/RESULTS.md. Load: wrk, 1 thread, 32 connections, time-bounded; every server runs
one process, like `make run`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ipheron_devstack.stack import SERVICES, Stack  # noqa: E402
from ipheron_libs.devstack_ports import free_port  # noqa: E402
from ipheron_libs.testing import wait_until  # noqa: E402

DURATION = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PY = sys.executable


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int


def _ms(value: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", value)
    assert m, value
    n, unit = float(m.group(1)), m.group(2)
    return n / 1000 if unit == "us" else n * 1000 if unit == "s" else n


def wrk(name: str, url: str, headers: dict[str, str] | None = None, seconds: int | None = None) -> Result:
    hdr = [a for k, v in (headers or {}).items() for a in ("-H", f"{k}: {v}")]
    base = ["wrk", "-t1", f"-c{CONNECTIONS}", "--latency", *hdr, url]
    subprocess.run([*base[:3], "-d2s", *base[3:]], capture_output=True, check=True)  # warm-up
    out = subprocess.run([*base[:3], f"-d{seconds or DURATION}s", *base[3:]], capture_output=True, text=True,
                         check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Result(name, rps, p50, p99, int(m.group(1)) if m else 0)


def wait_http(url: str, timeout: float = 30) -> None:
    wait_until(lambda: httpx.get(url, timeout=1).status_code < 500, timeout, interval=0.1,
               message=f"{url} answering", ignore=(httpx.HTTPError,))


def uvicorn(app: str, port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([PY, "-m", "uvicorn", app, "--port", str(port), "--loop", "uvloop", "--http", "httptools",
                             "--no-access-log", "--log-level", "warning"], cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def login(base: str) -> tuple[str, str]:
    """A real SIWE login through the gateway; returns (access token, user id)."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    acct = Account.create()
    with httpx.Client(base_url=base, timeout=10) as c:
        nonce = c.post("/api/v1/auth/nonce", json={"address": acct.address})
        nonce.raise_for_status()
        message = nonce.json()["message"]
        sig = acct.sign_message(encode_defunct(text=message)).signature.hex()
        resp = c.post("/api/v1/auth/login", json={"message": message, "signature": "0x" + sig.removeprefix("0x")})
        resp.raise_for_status()
        body = resp.json()
    return body["access_token"], body["user"]["id"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0].removeprefix("`make bench`: "))
    parser.add_argument("--seconds", type=int, default=DURATION, help="wrk duration of each measurement "
                        "(BENCH_SECONDS, default %(default)s)")
    parser.add_argument("--connections", type=int, default=CONNECTIONS, help="wrk connections "
                        "(BENCH_CONNECTIONS, default %(default)s)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="alternating rounds, the median is reported "
                        "(BENCH_ROUNDS, default %(default)s)")
    parser.add_argument("--skip-ai", action="store_true", default=bool(os.environ.get("BENCH_SKIP_AI")),
                        help="leave out the AI agents benchmark (BENCH_SKIP_AI)")
    parser.add_argument("--skip-purchases", action="store_true", default=bool(os.environ.get("BENCH_SKIP_PURCHASES")),
                        help="leave out the purchases/s benchmark (BENCH_SKIP_PURCHASES)")
    parser.add_argument("--wallets", type=int, default=int(os.environ.get("BENCH_WALLETS", "32")),
                        help="funded buyer wallets of the purchases benchmark (BENCH_WALLETS, default %(default)s)")
    parser.add_argument("--per-wallet", type=int, default=int(os.environ.get("BENCH_PER_WALLET", "4")),
                        help="purchases per wallet and mode (BENCH_PER_WALLET, default %(default)s)")
    parser.add_argument("--chain", choices=("embedded", "devnode", "both"),
                        default=os.environ.get("BENCH_CHAIN", "both"),
                        help="the purchases benchmark's chain: the embedded py-evm chain, the hardhat devnode behind "
                             "WEB3_PROVIDER_URI, or both in turn (BENCH_CHAIN, default %(default)s)")
    parser.add_argument("--baseline-ref", default=os.environ.get("BENCH_BASELINE_REF", ""),
                        help="run the purchases first on the services of this commit, same client, same run "
                             "(BENCH_BASELINE_REF)")
    parser.add_argument("--profile", type=float, default=float(os.environ.get("BENCH_PROFILE", "0")),
                        help="py-spy (if installed) the chain, assets and gateway for N seconds of the purchases "
                             "(BENCH_PROFILE)")
    parser.add_argument("--catalog-rows", default=os.environ.get("BENCH_CATALOG_ROWS", "10000,1000000"),
                        help="catalog sizes of the user-path bench (bench/user_paths.py), comma-separated; 0 skips "
                             "it (BENCH_CATALOG_ROWS, default %(default)s)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not add an entry to bench/RESULTS.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    global DURATION, CONNECTIONS, ROUNDS
    args = parse_args(argv)
    DURATION, CONNECTIONS, ROUNDS = args.seconds, args.connections, args.rounds
    if shutil.which("wrk") is None:
        print("wrk is required: 'make install' installs it (as root, with apt-get); "
              "otherwise install the 'wrk' package yourself (e.g. sudo apt-get install -y wrk)", file=sys.stderr)
        return 2
    # The bench writes users and sessions: it runs on embedded servers of its own, never on
    # the database a shell's DATABASE_URL / REDIS_URL names.
    for name in ("DATABASE_URL", "REDIS_URL"):
        if os.environ.pop(name, None):
            print(f"bench: ignoring {name} (the bench uses embedded servers)", file=sys.stderr)
    tmp = Path(tempfile.mkdtemp(prefix="ipheron-bench-"))
    auth = next(s for s in SERVICES if s.name == "auth")
    stack = Stack.for_tests(tmp / "data", services=(auth,), log_dir=tmp / "logs",
                            extra_env={"LOG_LEVEL": "WARNING", "GATEWAY_RATELIMIT_DEFAULT": "1000000000/minute"})
    procs: list[subprocess.Popen[bytes]] = []
    results: list[Result] = []
    try:
        stack.start_infra()
        stack.start_service(auth)
        stack.wait_service(auth)
        stack.start_gateway()
        wait_http(stack.gateway_url + "/health/live")
        token, user_id = login(stack.gateway_url)

        port_a = free_port()
        procs.append(uvicorn("bench.bare_http:app", port_a))
        wait_http(f"http://127.0.0.1:{port_a}/ping")
        grpc_port, port_b = free_port(), free_port()
        procs.append(subprocess.Popen([PY, str(ROOT / "bench" / "ref_service.py"), str(grpc_port),
                                       stack.service_urls["auth"]], cwd=ROOT))
        procs.append(uvicorn("bench.ref_http:app", port_b, {"REF_GRPC_ADDR": f"127.0.0.1:{grpc_port}"}))
        wait_http(f"http://127.0.0.1:{port_b}/users/{user_id}")
        paths = [
            ("a bare FastAPI JSON", f"http://127.0.0.1:{port_a}/ping", None),
            ("b bare FastAPI -> grpc.aio -> PK SELECT", f"http://127.0.0.1:{port_b}/users/{user_id}", None),
            ("c gateway (JWT, rate limit, telemetry) -> auth -> PostgreSQL",
             f"{stack.gateway_url}/api/v1/users/{user_id}", {"Authorization": f"Bearer {token}"}),
        ]
        # Rounds alternate the paths, so drift on a shared machine hits each alike; every
        # server stays up (idle) while another is measured. The median round is reported.
        rounds: dict[str, list[Result]] = {name: [] for name, _, _ in paths}
        for _ in range(ROUNDS):
            for name, url, headers in paths:
                rounds[name].append(wrk(name, url, headers))
        results = [sorted(rs, key=lambda r: r.rps)[len(rs) // 2] for rs in rounds.values()]
    finally:
        for p in procs:
            p.terminate()
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    if args.skip_ai:
        ai_text = "skipped (--skip-ai)"
    else:
        ai = subprocess.run([PY, str(ROOT / "bench" / "ai_bench.py"), "--seconds", "3"], cwd=ROOT,
                            capture_output=True, text=True)
        ai_text = (ai.stdout.strip() if ai.returncode == 0
                   else f"ai_bench failed ({ai.returncode}): {ai.stderr[-500:]}")
    print(ai_text)
    buy_text = "skipped (--skip-purchases)"
    buy_ok = True
    if not args.skip_purchases:
        from bench import purchases

        chains = purchases.CHAINS if args.chain == "both" else (args.chain,)
        rates, profile = purchases.run_chains(chains, args.wallets, args.per_wallet, ["pipelined", "sequential"], 5,
                                              args.profile, args.baseline_ref)
        buy_ok = all(r.failures == 0 for r in rates)
        buy_text = "\n".join([purchases.HEADER, *(r.row() for r in rates), "", *purchases.summary(rates),
                              *purchases.notes(), *(["", "```", profile, "```"] if profile else [])])
    print(buy_text)
    paths_text = "skipped (--catalog-rows 0)"
    sizes = [int(n) for n in args.catalog_rows.split(",") if int(n) > 0]
    if sizes:
        from bench import user_paths

        paths_text = "\n\n".join(user_paths.run(n, max(3, DURATION // 2), ROUNDS, CONNECTIONS, args.profile)
                                   for n in sizes)
    print(paths_text)
    a, b, c = results
    lines = [f"| {r.name} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.non2xx} |" for r in results]
    ratio = (f"c/a = {c.rps / a.rps:.2f}  c/b = {c.rps / b.rps:.2f}  "
             f"(target c/b >= 0.80: {'met' if c.rps / b.rps >= 0.8 else 'NOT met'})")
    table = "\n".join(["| path | req/s | p50 ms | p99 ms | non-2xx |", "|---|---|---|---|---|", *lines])
    print(table)
    print(ratio)
    if not args.no_write:
        write_results(table, ratio, ai_text, buy_text, paths_text, args)
    return 0 if all(r.non2xx == 0 for r in results) and buy_ok else 1


def write_results(table: str, ratio: str, ai_text: str, buy_text: str, paths_text: str,
                  args: argparse.Namespace) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    head = path.read_text() if path.exists() else "# Benchmark results\n\nNewest first. Command: `make bench`.\n"
    head_lines = head.split("\n## ", 1)
    entry = (f"## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC — `make bench`\n\n"
             f"Machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}; "
             f"wrk -t1 -c{CONNECTIONS} -d{DURATION}s after a 2 s warm-up, {ROUNDS} alternating rounds, median "
             f"round shown; one process per server.\n\n"
             f"{table}\n\n{ratio}\n\nAI agents (`bench/ai_bench.py --seconds 3`, real MeTTa worker pool):\n\n"
             f"```\n{ai_text}\n```\n\n"
             f"Purchases end to end (`bench/purchases.py --chain {args.chain}`, {args.wallets} wallets x "
             f"{args.per_wallet} purchases per mode{', baseline ' + args.baseline_ref if args.baseline_ref else ''}; "
             f"each run's load average is in its notes):\n\n{buy_text}\n\n"
             f"User paths beside their ceilings (`bench/user_paths.py --rows {args.catalog_rows}`, catalogs "
             f"loaded by COPY; load average now: {os.getloadavg()[0]:.1f}):\n\n{paths_text}\n")
    rest = ("\n## " + head_lines[1]) if len(head_lines) > 1 else ""
    path.write_text(head_lines[0].rstrip() + "\n\n" + entry + rest)


if __name__ == "__main__":
    sys.exit(main())
