"""Purchases per second end to end, through the gateway: from W funded wallets, each purchase
is prepared (POST /assets/{id}/purchase), signed by the buyer's own wallet
(`ipheron_libs.wallet`), handed in (POST .../transaction) and counted once the chain's indexer
has recorded the sale (the purchase reads `completed`).

Two chains (`--chain`, default both, one after the other on fresh stacks): the embedded chain
(py-evm in the chain service's process, blocks every CHAIN_BLOCK_INTERVAL_MS) and the devnode
(`services/chain/devnode`, the hardhat network: EDR, a Rust EVM, in its own process, behind
WEB3_PROVIDER_URI, blocks every BENCH_DEVNODE_BLOCK_MS = 1000; its CPU is counted as
"devnode"). `--baseline-ref REF` first runs the same measurements on the services of commit
REF (its files by `git archive`, imported through PYTHONPATH), so a change is measured against
its baseline by the same client, back to back.

Measured in the same run, on the same stack:
  - a baseline: GET /api/v1/assets (a plain catalog read through the same gateway), with wrk;
  - the chain alone: native transfers from the same wallets, signed and handed straight to the
    chain service (PrepareTransaction + SubmitRawTransaction over gRPC) until mined.

Two purchase modes: `pipelined` (each wallet hands in its next purchase as soon as the previous
one is submitted: the prepared nonce counts the wallet's pending transaction, as a browser
wallet's would) and `sequential` (each wallet waits for the sale to be recorded before buying
again: bound by the latency of one purchase).

Every service runs one process, like `make run`. Setup (assets registered and minted, listings
signed, wallets funded) is not timed. The chain's periodic reconciliation is off during the
bench (BENCH_CHAIN_RECONCILE_INTERVAL_S=60 measures it on, as deployed).
`--rounds N` instead measures pipelined purchases on the embedded chain in N alternating rounds
against the `--baseline-ref` services, both stacks up at once (see `rounds`): medians and ratios.
Run: .venv/bin/python bench/purchases.py [--wallets 32] [--per-wallet 8] [--mode pipelined]
     [--chain embedded|devnode|both] [--baseline-ref COMMIT] [--profile SECONDS] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ipheron.chain.v1 import chain_service_pb2 as chain_pb  # noqa: E402
from ipheron.chain.v1 import chain_service_pb2_grpc as chain_grpc  # noqa: E402
from ipheron_devstack import market  # noqa: E402
from ipheron_devstack.stack import Stack  # noqa: E402
from ipheron_libs.wallet import Wallet  # noqa: E402

PRICE = "0.01"
RECONCILE_INTERVAL_S = os.environ.get("BENCH_CHAIN_RECONCILE_INTERVAL_S", "0")
T = TypeVar("T")
REASONS: dict[str, int] = {}  # why purchases failed, counted
STAGES: dict[str, list[float]] = {}  # ms per step of the purchases
CPU: list[str] = []  # CPU time per purchase, by process, one line per mode
LOAD: list[str] = []  # the machine's load average as each run started (other work on the machine)
ROUNDS: list[str] = []  # --rounds: the medians over the alternating rounds
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
UNLIMITED = "1000000000/minute"


@dataclass
class Rate:
    """One measured rate: how many, in how long, and the latency percentiles (ms)."""

    name: str
    count: int
    seconds: float
    failures: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0

    @classmethod
    def of(cls, name: str, latencies_ms: list[float], seconds: float, failures: int) -> Rate:
        ordered = sorted(latencies_ms) or [0.0]
        return cls(name, len(latencies_ms), seconds, failures, statistics.median(ordered),
                   ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))])

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def row(self) -> str:
        return (f"| {self.name} | {self.count:,} | {self.seconds:.1f} | {self.per_second:,.1f} | {self.p50_ms:.0f} | "
                f"{self.p99_ms:.0f} | {self.failures} |")


HEADER = "| measurement | n | seconds | per second | p50 ms | p99 ms | failed |\n|---|---|---|---|---|---|---|"


DEVNODE = ROOT / "services" / "chain" / "devnode"
HARDHAT = DEVNODE / "node_modules" / ".bin" / "hardhat"
# hardhat's well-known development account #0: the platform signer on the devnode.
DEVNODE_SIGNER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
CHAINS = ("embedded", "devnode")
# The devnode mines the pending transactions every this many ms (0: automine, a block per transaction).
DEVNODE_BLOCK_MS = int(os.environ.get("BENCH_DEVNODE_BLOCK_MS", "1000"))


@dataclass
class Devnode:
    """The hardhat network (`services/chain/devnode`, EDR: a Rust EVM) as a JSON-RPC node on a free port."""

    proc: subprocess.Popen[bytes]
    uri: str

    @classmethod
    def start(cls) -> Devnode:
        from ipheron_libs.devstack_ports import free_port

        if not HARDHAT.exists():
            raise SystemExit("the devnode is not installed: npm ci --prefix services/chain/devnode --ignore-scripts")
        port = free_port()
        proc = subprocess.Popen([str(HARDHAT), "node", "--hostname", "127.0.0.1", "--port", str(port)], cwd=DEVNODE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        node = cls(proc, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 90
        while True:
            try:
                node.rpc("eth_chainId")
                # `hardhat node` prints every request (decoding each call's contract and arguments)
                # to a stdout nobody reads here: not the node's work, so not measured.
                node.rpc("hardhat_setLoggingEnabled", [False])
                if DEVNODE_BLOCK_MS:
                    # Blocks on an interval, like the embedded chain, instead of one per
                    # transaction: automine stamps each block a second after its parent, so a
                    # few hundred setup mints ran the node's clock minutes ahead of the wall clock
                    # (listings were then "not open yet" for the assets service).
                    node.rpc("evm_setAutomine", [False])
                    node.rpc("evm_setIntervalMining", [DEVNODE_BLOCK_MS])
                return node
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    node.stop()
                    raise SystemExit("hardhat node did not start") from None
                time.sleep(0.3)

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        body = httpx.post(self.uri, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []},
                          timeout=10).json()
        if "error" in body:
            raise RuntimeError(f"{method}: {body['error']}")
        return body["result"]

    def fund(self, address: str, wei: int) -> None:
        """The devnode's own faucet (the gateway's is the embedded chain's only)."""
        self.rpc("hardhat_setBalance", [address, hex(wei)])

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


SOURCE_DIRS = ("libs/src", "proto/gen/python", "gateway/src", "devstack/src",
               *(f"services/{name}/src" for name in ("ai-agents", "analytics", "assets", "auth", "chain", "staking")))


def checkout(ref: str, into: Path) -> str:
    """The project's files at commit `ref` (git archive: the work tree and the index untouched),
    and the PYTHONPATH that makes the stack's processes import them instead of the work tree's."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return os.pathsep.join(str(into / d) for d in SOURCE_DIRS)


def start_stack(tmp: Path, devnode: Devnode | None = None, pythonpath: str = "") -> Stack:
    env = {"LOG_LEVEL": "WARNING", "IPHERON_ENV": "test",
           # The chain's periodic reconciliation reads ownerOf of every token at a past block on
           # the chain's one EVM thread (about half its time here with a few hundred tokens, which
           # pushed purchases past the gateway's 5 s deadline): off unless asked, and said so.
           "CHAIN_RECONCILE_INTERVAL_S": RECONCILE_INTERVAL_S}
    env |= {f"GATEWAY_RATELIMIT_{g}": UNLIMITED for g in
            ("AUTH", "DEFAULT", "ANALYTICS", "ASSET_WRITES", "TRANSACTIONS")}
    if devnode is not None:
        env |= {"WEB3_PROVIDER_URI": devnode.uri, "CHAIN_SIGNER_KEY": DEVNODE_SIGNER_KEY}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    stack = Stack.for_tests(tmp / "data", log_dir=tmp / "logs", extra_env=env)
    stack.start()
    return stack


def _retrying(step: Callable[[], T], attempts: int = 5) -> T:
    """A setup step answered 5xx (a deadline under load) is tried again: registering again uses
    new content, listing again supersedes the previous order."""
    for attempt in range(attempts):
        try:
            return step()
        except market.ApiError as exc:
            if exc.response.status_code < 500 or attempt == attempts - 1:
                raise
            time.sleep(1.0)
    raise AssertionError("unreachable")


def setup(api: httpx.Client, wallets: int, per_wallet: int,
          devnode: Devnode | None = None) -> tuple[list[market.User], list[list[str]]]:
    """Buyers funded, and per buyer the assets (minted, listed) it will buy. Not timed."""
    sellers = [market.sign_in(api) for _ in range(8)]
    n = wallets * per_wallet

    def listed(i: int) -> str:
        seller = sellers[i % len(sellers)]
        asset = _retrying(lambda: market.register(api, seller, market.asset_body([(seller, "100")], price=PRICE,
                                                                                 royalty="5")))
        _retrying(lambda: market.list_for_sale(api, seller, asset["id"], PRICE))
        return str(asset["id"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(listed, range(n)))
    buyers = [market.sign_in(api) for _ in range(wallets)]
    for b in buyers:
        if devnode is not None:
            devnode.fund(b.address, 5 * 10**18)
        else:
            _retrying(lambda b=b: market.fund(api, b.address, "5"))  # type: ignore[misc]
    return buyers, [ids[i::wallets] for i in range(wallets)]


def purchases(client: httpx.Client, buyers: list[market.User], plan: list[list[str]], mode: str) -> Rate:
    """The timed part: every buyer buys its assets; ends when the last sale is recorded. The
    requests go by a `market.LeanClient` to `client`'s gateway: the load generator shares the
    2 cores with the system it measures (httpx 1.3 ms of CPU a request here, it 0.4 ms)."""
    api = market.LeanClient(str(client.base_url))
    lock = threading.Lock()
    failures = 0
    latencies: list[float] = []

    def failed(stage: str, resp: market.Answer) -> None:
        nonlocal failures
        with lock:
            failures += 1
            detail = resp.json().get("detail", "") if resp.headers.get("content-type", "").endswith("json") else ""
            REASONS[f"{stage}: {resp.status_code} {detail[:100]}"] = REASONS.get(
                f"{stage}: {resp.status_code} {detail[:100]}", 0) + 1

    def settled(done: dict[str, Any], t0: float) -> None:
        nonlocal failures
        with lock:
            if done["state"] == "completed":
                latencies.append((time.monotonic() - t0) * 1000)
            else:
                failures += 1
                key = f"recorded failed: {done.get('failure_code')} {str(done.get('failure_reason'))[:100]}"
                REASONS[key] = REASONS.get(key, 0) + 1

    def wallet_loop(buyer: market.User, asset_ids: list[str]) -> None:
        """Sequential: each purchase waited for before the next; pipelined: all of this wallet's
        purchases handed in, then each waited for. Waiting is a long poll (`Prefer: wait`)."""
        nonlocal failures
        handed_in: list[tuple[dict[str, Any], float]] = []
        for asset_id in asset_ids:
            t0 = time.monotonic()
            start = market.start_purchase(api, buyer, asset_id)
            t1 = time.monotonic()
            if start.status_code != 201:
                failed("purchase", start)
                continue
            paid = market.submit_payment(api, buyer, start.json())
            with lock:
                STAGES.setdefault("prepare (POST purchase)", []).append((t1 - t0) * 1000)
                STAGES.setdefault("sign + hand in (POST transaction)", []).append((time.monotonic() - t1) * 1000)
            if paid.status_code != 202:
                failed("hand-in", paid)
                continue
            if mode == "sequential":
                settled(market.wait_purchase(api, buyer, paid.json(), timeout=300, interval=0.25), t0)
            else:
                handed_in.append((paid.json(), t0))
        for p, t0 in handed_in:
            try:
                settled(market.wait_purchase(api, buyer, p, timeout=300, interval=0.25), t0)
            except TimeoutError:
                with lock:
                    failures += 1

    begin = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(buyers)) as pool:
        list(pool.map(wallet_loop, buyers, plan))
    elapsed = time.monotonic() - begin
    return Rate.of(f"purchases, {mode} (prepare → sign → submit → recorded), {len(buyers)} wallets",
                   latencies, elapsed, failures)


def native_transfers(stack: Stack, buyers: list[market.User], per_wallet: int) -> Rate:
    """The chain service alone: each wallet sends `per_wallet` native transfers (prepared, signed,
    submitted over gRPC, one after another per wallet), until every one is mined."""
    sink = Wallet.create().address
    hashes: list[tuple[str, float]] = []
    lock = threading.Lock()
    failures = 0
    with stack.channel("chain") as ch:
        stub = chain_grpc.ChainServiceStub(ch)

        def loop(buyer: market.User) -> None:
            nonlocal failures
            for _ in range(per_wallet):
                t0 = time.monotonic()
                try:
                    prep = stub.PrepareTransaction(chain_pb.PrepareTransactionRequest(
                        from_address=buyer.address, to_address=sink, value_wei="1"), timeout=30).transaction
                    tx = {"from": prep.from_address, "to": prep.to, "data": prep.data or "0x",
                          "value": int(prep.value_wei), "chainId": prep.chain_id, "gas": prep.gas,
                          "maxFeePerGas": int(prep.max_fee_per_gas_wei),
                          "maxPriorityFeePerGas": int(prep.max_priority_fee_per_gas_wei), "nonce": prep.nonce}
                    r = stub.SubmitRawTransaction(chain_pb.SubmitRawTransactionRequest(
                        raw_transaction=buyer.wallet.sign_transaction(tx), expected=prep,
                        type=chain_pb.TRANSACTION_TYPE_NATIVE_TRANSFER), timeout=30)
                except grpc.RpcError:
                    with lock:
                        failures += 1
                    continue
                with lock:
                    hashes.append((r.tx_hash, t0))

        begin = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(buyers)) as pool:
            list(pool.map(loop, buyers))
        latencies: list[float] = []
        waiting = list(hashes)
        deadline = time.monotonic() + 300
        while waiting and time.monotonic() < deadline:
            still = []
            for tx_hash, t0 in waiting:
                t = stub.GetTransaction(chain_pb.GetTransactionRequest(tx_hash=tx_hash), timeout=30).transaction
                if t.status == chain_pb.TRANSACTION_STATUS_CONFIRMED:
                    latencies.append((time.monotonic() - t0) * 1000)
                elif t.status == chain_pb.TRANSACTION_STATUS_PENDING:
                    still.append((tx_hash, t0))
                else:
                    failures += 1
            waiting = still
            if waiting:
                time.sleep(0.05)
        failures += len(waiting)
        elapsed = time.monotonic() - begin
    return Rate.of(f"chain alone: native transfers (prepare → sign → submit → mined), {len(buyers)} wallets",
                   latencies, elapsed, failures)


def catalog_reads(stack: Stack, seconds: int) -> Rate:
    """Baseline: GET /api/v1/assets?per_page=20 with wrk (32 connections)."""
    from bench.run import wrk  # the same wrk harness as the HTTP bench

    r = wrk("GET /api/v1/assets", f"{stack.gateway_url}/api/v1/assets?per_page=20", None, seconds=seconds)
    return Rate("baseline: GET /api/v1/assets?per_page=20 (wrk, 32 connections)", int(r.rps * seconds), seconds,
                r.non2xx, r.p50_ms, r.p99_ms)


def run(wallets: int, per_wallet: int, modes: list[str], baseline_seconds: int,
        profile_s: float = 0.0, chain: str = "embedded", ref: str = "") -> tuple[list[Rate], str]:
    """The whole bench on a fresh stack whose chain is `chain` (the embedded py-evm chain, or the
    hardhat devnode behind WEB3_PROVIDER_URI), its services running the code of commit `ref`
    (empty: the work tree); the rates and the processes' profile (if asked)."""
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)  # embedded servers of its own, never a shell's database
    tmp = Path(tempfile.mkdtemp(prefix="ipheron-bench-buy-"))
    pythonpath = checkout(ref, tmp / "code") if ref else ""
    label = f"{chain} chain" + (f", services at {ref}" if ref else "")
    LOAD.append(f"{label}: load average at start {os.getloadavg()[0]:.2f} (1 min), {os.getloadavg()[1]:.2f} (5 min)")
    devnode = Devnode.start() if chain == "devnode" else None
    rates: list[Rate] = []
    profile = ""
    try:
        stack = start_stack(tmp, devnode, pythonpath)
        try:
            with httpx.Client(base_url=stack.gateway_url, timeout=60,
                              limits=httpx.Limits(max_connections=wallets + 8)) as api:
                extra = {"devnode": devnode.proc.pid} if devnode else {}
                before, started = cpu_snapshot(stack, extra), time.monotonic()
                plans = [setup(api, wallets, per_wallet, devnode) for _ in modes]
                # The setup, not what the target is about, but a flow users wait on too: each
                # asset registered (minted to its creator) and listed by its seller's signature.
                assets, took = wallets * per_wallet * len(modes), time.monotonic() - started
                CPU.append(f"{label}: setup: {assets} assets registered (minted) and listed in {took:.1f} s "
                           f"= {assets / took:.1f} assets/s, 4 at a time; {wallets} buyers funded")
                CPU.append(cpu_line(f"{label}, setup", before, cpu_snapshot(stack, extra), assets,
                                    unit="asset registered and listed"))
                if shutil.which("wrk") and baseline_seconds:
                    rates.append(catalog_reads(stack, baseline_seconds))
                rates.append(native_transfers(stack, plans[0][0], per_wallet))
                for mode, (buyers, plan) in zip(modes, plans, strict=True):
                    spy = start_profile(stack, profile_s) if profile_s and mode == modes[0] else None
                    before, counted = cpu_snapshot(stack, extra), work_counts(stack)
                    rates.append(purchases(api, buyers, plan, mode))
                    CPU.append(cpu_line(f"{label}, {mode}", before, cpu_snapshot(stack, extra), rates[-1].count))
                    CPU.append(work_line(f"{label}, {mode}", counted, work_counts(stack), rates[-1].count))
                    if spy:
                        profile = finish_profile(spy)
        finally:
            stack.stop()
    finally:
        if devnode is not None:
            devnode.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    for r in rates:
        r.name = f"{label}: {r.name}"
    for table in (STAGES, REASONS):  # this run's steps and failures, named by their run
        for key in [k for k in table if not k.startswith(CHAINS)]:
            table[f"{label}: {key}"] = table.pop(key)  # type: ignore[assignment]
    return rates, profile


def run_chains(chains: Sequence[str], wallets: int, per_wallet: int, modes: list[str], baseline_seconds: int,
               profile_s: float = 0.0, baseline_ref: str = "") -> tuple[list[Rate], str]:
    """`run` on each chain in turn (the catalog baseline on the first only), each time first on the
    services of commit `baseline_ref` when given, then on the work tree's: a before/after pair
    measured back to back by the same client. Profiles (of the work tree's runs) concatenated."""
    rates: list[Rate] = []
    profiles = []
    for i, chain in enumerate(chains):
        if baseline_ref:
            rates += run(wallets, per_wallet, modes, 0, 0.0, chain, baseline_ref)[0]
        got, profile = run(wallets, per_wallet, modes, baseline_seconds if i == 0 else 0, profile_s, chain)
        rates += got
        if profile:
            profiles.append(f"[{chain} chain]\n{profile}")
    return rates, "\n\n".join(profiles)


def rounds(wallets: int, per_wallet: int, n_rounds: int, ref: str = "") -> list[Rate]:
    """`--rounds N`: pipelined purchases on the embedded chain in N rounds, and with `ref` the
    services of that commit too, both stacks up at once (each on its own embedded PostgreSQL
    and Redis) and measured in alternating order (A B, B A, A B, ...) by the same client. A
    machine that is slower for a minute (this VM's speed changes 2-3x over a day) then slows
    both alike; one back-to-back pair can differ by a third on the same code. The stack not
    measured in a round stays idle (its pollers' CPU is in "other processes"). Each round's
    rate and CPU are listed; `ROUNDS` gets the medians and, with `ref`, their ratios."""
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    tmp = Path(tempfile.mkdtemp(prefix="ipheron-bench-rounds-"))
    sides: list[tuple[str, Stack, httpx.Client]] = []
    try:
        wanted = ([(f"embedded chain, services at {ref}", checkout(ref, tmp / "code"))] if ref else []) + [
            ("embedded chain", "")]
        for i, (label, pythonpath) in enumerate(wanted):
            LOAD.append(f"{label}: load average at start {os.getloadavg()[0]:.2f} (1 min), "
                        f"{os.getloadavg()[1]:.2f} (5 min)")
            stack = start_stack(tmp / f"stack{i}", None, pythonpath)
            sides.append((label, stack, httpx.Client(base_url=stack.gateway_url, timeout=60,
                                                     limits=httpx.Limits(max_connections=wallets + 8))))
        plans = [[setup(api, wallets, per_wallet) for _ in range(n_rounds)] for _, _, api in sides]
        rates: list[Rate] = []
        measured: dict[str, list[tuple[float, float]]] = {}
        for r in range(n_rounds):
            order = range(len(sides)) if r % 2 == 0 else reversed(range(len(sides)))
            for i in order:
                label, stack, api = sides[i]
                buyers, plan = plans[i][r]
                before, counted = cpu_snapshot(stack), work_counts(stack)
                rate = purchases(api, buyers, plan, "pipelined")
                after = cpu_snapshot(stack)
                rate.name = f"{label}: {rate.name}, round {r + 1}"
                rates.append(rate)
                CPU.append(cpu_line(f"{label}, round {r + 1}", before, after, rate.count))
                CPU.append(work_line(f"{label}, round {r + 1}", counted, work_counts(stack), rate.count))
                machine_ms = 1000 * (after["whole machine"] - before["whole machine"]) / max(rate.count, 1)
                measured.setdefault(label, []).append((rate.per_second, machine_ms))
        ROUNDS.extend(round_summary(measured))
        return rates
    finally:
        for _, stack, api in sides:
            api.close()
            stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def round_summary(measured: dict[str, list[tuple[float, float]]]) -> list[str]:
    """Per code: the median purchases/s and machine CPU per purchase over its rounds (each
    round's figures after them); with two codes, the work tree's medians over the baseline's."""
    lines, medians = [], []
    for label, got in measured.items():
        per_s, cpu_ms = statistics.median(g[0] for g in got), statistics.median(g[1] for g in got)
        medians.append((per_s, cpu_ms))
        lines.append(f"{label}: median of {len(got)} rounds {per_s:.1f} purchases/s, {cpu_ms:.0f} ms of machine CPU "
                     f"per purchase (rounds: {', '.join(f'{a:.1f}/s {b:.0f} ms' for a, b in got)})")
    if len(medians) == 2:
        (base_s, base_ms), (tree_s, tree_ms) = medians
        lines.append(f"work tree / baseline (medians): purchases/s x{tree_s / base_s:.2f}, "
                     f"CPU per purchase x{tree_ms / base_ms:.2f}")
    return lines


PROFILED = ("chain", "assets", "gateway", "analytics")
PROFILE_DIR = os.environ.get("BENCH_PROFILE_DIR", "")  # keep py-spy's collapsed stacks there


def start_profile(stack: Stack, seconds: float) -> list[tuple[str, subprocess.Popen[str], Path]]:
    """py-spy (if installed) sampling the chain, assets, gateway and analytics processes while
    purchases run. `--gil`: only the thread holding the GIL is sampled, so the shares are of
    the Python CPU time, not of threads waiting on a socket."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        return []
    spies = []
    for name in PROFILED:
        if PROFILE_DIR:
            Path(PROFILE_DIR).mkdir(parents=True, exist_ok=True)
            out = Path(PROFILE_DIR) / f"{name}.txt"
        else:
            out = Path(tempfile.mkstemp(prefix=f"ipheron-{name}-", suffix=".txt")[1])
        proc = subprocess.Popen([exe, "record", "--pid", str(stack.processes[name].pid), "--duration",
                                 str(int(seconds)), "--format", "raw", "--gil", "--output", str(out),
                                 "--nonblocking"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
        spies.append((name, proc, out))
    return spies


def _function(frame: str) -> str:
    """'fn (path/file.py:123)' -> 'fn (file.py)': samples of one function counted together."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0].rsplit('/', 1)[-1]})" if where else name


def finish_profile(spies: list[tuple[str, subprocess.Popen[str], Path]]) -> str:
    """Per process: the top functions by own samples and the project's functions by inclusive
    samples (py-spy's collapsed stacks; idle threads are not sampled)."""
    parts = []
    for name, proc, path in spies:
        proc.wait(timeout=600)
        text = path.read_text() if path.exists() else ""
        if not PROFILE_DIR:
            path.unlink(missing_ok=True)
        own: dict[str, int] = {}
        inclusive: dict[str, int] = {}
        total = 0
        for line in text.splitlines():
            stack_text, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [_function(f) for f in stack_text.split(";")]
            own[frames[-1]] = own.get(frames[-1], 0) + n
            for frame in set(frames):
                if any(pkg in frame for pkg in ("service.py", "servicer.py", "repository.py", "ledger.py",
                                                "network.py", "indexer.py", "txmanager.py", "routers", "deps.py",
                                                "clients.py", "domain.py", "index_repository.py")):
                    inclusive[frame] = inclusive.get(frame, 0) + n
        if not total:
            continue
        top = sorted(own.items(), key=lambda kv: -kv[1])[:12]
        ours = sorted(inclusive.items(), key=lambda kv: -kv[1])[:15]
        parts.append(f"{name} ({total} samples): own time\n" + "\n".join(f"{n / total:6.1%}  {f}" for f, n in top)
                     + f"\n{name}: project functions, inclusive\n"
                     + "\n".join(f"{n / total:6.1%}  {f}" for f, n in ours))
    return "\n\n".join(parts)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (/proc/<pid>/stat utime, stime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _stat(pid: int | str) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def tree_cpu_s(root: int) -> float:
    """CPU seconds of a server and its direct children (PostgreSQL's backends), those that exited included."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(entry.name)
        if not fields:
            continue
        if int(entry.name) == root:
            total += sum(int(v) for v in fields[11:15]) / CLOCK_TICKS  # utime, stime, cutime, cstime
        elif fields[1] == str(root):
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def infra_pids(stack: Stack) -> dict[str, int]:
    """The embedded PostgreSQL's postmaster and the embedded Redis, when the stack runs them."""
    pids: dict[str, int] = {}
    if stack.pg is not None:
        try:
            pids["postgresql"] = int(stack.pg.server.get_pid())
        except Exception:  # noqa: BLE001 - not fatal: its CPU is then only in the machine's total
            pass
    if stack.redis is not None:
        pids["redis"] = stack.redis.process.pid
    return pids


def machine_busy_s() -> float:
    """CPU seconds all cores spent not idle (/proc/stat), every process included."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


def cpu_snapshot(stack: Stack, extra: dict[str, int] | None = None) -> dict[str, float]:
    """CPU seconds so far of each of the stack's processes (and of `extra` process trees, e.g. the
    devnode), of the bench itself, and of the whole machine."""
    snap = {name: process_cpu_s(proc.pid) for name, proc in stack.processes.items()}
    snap |= {name: tree_cpu_s(pid) for name, pid in (extra or {}).items()}
    snap |= {name: tree_cpu_s(pid) for name, pid in infra_pids(stack).items()}
    times = os.times()
    snap["bench client"] = times.user + times.system
    snap["whole machine"] = machine_busy_s()
    return snap


def cpu_line(mode: str, before: dict[str, float], after: dict[str, float], count: int,
             unit: str = "purchase") -> str:
    """Milliseconds of CPU per `unit` (`count` of them: recorded purchases, registered assets), by
    process: where the cost goes."""
    per = {name: 1000 * (after[name] - before.get(name, 0.0)) / max(count, 1) for name in after}
    machine = per.pop("whole machine")
    parts = ", ".join(f"{name} {ms:.0f}" for name, ms in sorted(per.items(), key=lambda kv: -kv[1]))
    rest = machine - sum(per.values())
    return f"CPU per {unit}, {mode} (ms): {parts}; whole machine {machine:.0f} (other processes {rest:.0f})"


_COUNTED = (("grpc_server_requests_total{", "rpc"), ("database_queries_total{", "sql"),
            ("api_requests_total{", "http"))


def work_counts(stack: Stack) -> dict[tuple[str, str], float]:
    """(process, kind) -> count so far, from each process's /metrics: gRPC calls served, SQL
    statements sent, API requests answered. A process that does not answer counts nothing."""
    counts: dict[tuple[str, str], float] = {}
    urls = {name: f"http://127.0.0.1:{port}/metrics" for name, port in stack.metrics_ports.items()}
    urls["gateway"] = f"{stack.gateway_url}/metrics"
    for name, url in urls.items():
        try:
            text = httpx.get(url, timeout=5).text
        except httpx.HTTPError:
            continue
        for line in text.splitlines():
            for prefix, kind in _COUNTED:
                if line.startswith(prefix[:-1]) and not line.startswith(prefix[:-1] + "_"):
                    if kind == "http" and 'endpoint="/metrics"' in line:
                        continue
                    counts[(name, kind)] = counts.get((name, kind), 0.0) + float(line.rpartition(" ")[2])
    return counts


def work_line(mode: str, before: dict[tuple[str, str], float], after: dict[tuple[str, str], float],
              purchases_done: int) -> str:
    """Per recorded purchase: the API requests, and per process the gRPC calls it served and the
    SQL statements it sent (counted by the services' own metrics)."""
    per = {k: (v - before.get(k, 0.0)) / max(purchases_done, 1) for k, v in after.items()}
    http = sum(v for (_, kind), v in per.items() if kind == "http")
    rpc = ", ".join(f"{n} {v:.1f}" for (n, kind), v in sorted(per.items(), key=lambda kv: -kv[1])
                    if kind == "rpc" and v >= 0.05)
    sql = ", ".join(f"{n} {v:.1f}" for (n, kind), v in sorted(per.items(), key=lambda kv: -kv[1])
                    if kind == "sql" and v >= 0.05)
    return (f"work per purchase, {mode}: API requests {http:.1f}; gRPC calls served: {rpc}; "
            f"SQL statements: {sql}")


def summary(rates: Sequence[Rate]) -> list[str]:
    """Per run (chain, code): the best purchase mode's rate against the target, one line each."""
    best: dict[str, float] = {}
    for r in rates:
        label, _, what = r.name.partition(": ")
        if what.startswith("purchases"):
            best[label] = max(best.get(label, 0.0), r.per_second)
    return [f"{label}: purchases/s (best mode) = {per_s:.1f}  (target >= 50: {'met' if per_s >= 50 else 'NOT met'})"
            for label, per_s in best.items()]


def notes() -> list[str]:
    """The per-step latencies and failure reasons of the last run, one line each."""
    lines = [f"{stage}: p50 {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms ({len(ms)})"
             for stage, ms in STAGES.items() if ms]
    lines += [f"failed {n}x  {reason}" for reason, n in sorted(REASONS.items(), key=lambda kv: -kv[1])]
    return LOAD + ROUNDS + lines + CPU


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--wallets", type=int, default=int(os.environ.get("BENCH_WALLETS", "32")))
    parser.add_argument("--per-wallet", type=int, default=int(os.environ.get("BENCH_PER_WALLET", "8")))
    parser.add_argument("--mode", choices=("pipelined", "sequential", "both"), default="both")
    parser.add_argument("--baseline-seconds", type=int, default=5)
    parser.add_argument("--profile", type=float, default=0.0,
                        help="py-spy the chain, assets and gateway processes for N seconds")
    parser.add_argument("--chain", choices=(*CHAINS, "both"), default=os.environ.get("BENCH_CHAIN", "both"),
                        help="the embedded py-evm chain, the hardhat devnode (WEB3_PROVIDER_URI), or both in turn")
    parser.add_argument("--baseline-ref", default=os.environ.get("BENCH_BASELINE_REF", ""),
                        help="also run the services of this commit first (git archive), same client, same run")
    parser.add_argument("--rounds", type=int, default=1,
                        help="N > 1: pipelined purchases on the embedded chain in N rounds, alternating with "
                             "the --baseline-ref services (both stacks up at once); medians and ratios")
    parser.add_argument("--json", action="store_true", help="print the rates as JSON")
    args = parser.parse_args(argv)
    modes = ["pipelined", "sequential"] if args.mode == "both" else [args.mode]
    if args.rounds > 1:
        rates, profile = rounds(args.wallets, args.per_wallet, args.rounds, args.baseline_ref), ""
    else:
        rates, profile = run_chains(CHAINS if args.chain == "both" else (args.chain,), args.wallets,
                                    args.per_wallet, modes, args.baseline_seconds, args.profile, args.baseline_ref)
    if args.json:
        sys.stdout.write(json.dumps([{"name": r.name, "count": r.count, "seconds": r.seconds,
                                      "per_second": r.per_second, "failures": r.failures} for r in rates]) + "\n")
    else:
        sys.stdout.write(HEADER + "\n" + "\n".join(r.row() for r in rates) + "\n\n")
        sys.stdout.write("".join(line + "\n" for line in [*summary(rates), *notes()]))
        if profile:
            sys.stdout.write("\nprofile (py-spy) while the purchases ran:\n" + profile + "\n")
    return 0 if all(r.failures == 0 for r in rates) else 1


if __name__ == "__main__":
    sys.exit(main())
