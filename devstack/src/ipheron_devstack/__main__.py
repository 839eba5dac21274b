"""`python -m ipheron_devstack` (what `make run` calls): the whole system on this machine."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from pathlib import Path

from ipheron_devstack.stack import Stack


def _say(msg: str) -> None:
    sys.stdout.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stdout.flush()


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    import os

    data_dir = Path(os.environ.get("DATA_DIR", ".data"))
    stack = Stack(data_dir=data_dir, log_dir=data_dir / "logs", progress=_say)
    stopping = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        stack.start()
    except Exception as exc:  # noqa: BLE001 - report and clean up
        _say(f"start-up failed: {exc}")
        stack.stop()
        return 1
    base = stack.gateway_url
    _say("IPheron is up. Ctrl-C stops everything.")
    _say(f"  API       {base}/api/v1")
    _say(f"  Docs      {base}/docs")
    _say(f"  Health    {base}/health")
    _say(f"  Metrics   {base}/metrics (gateway); services: "
         + ", ".join(f"{n} :{p}" for n, p in stack.metrics_ports.items()))
    _say(f"  Logs      {stack.log_dir}/")
    while not stopping.is_set():
        for name, proc in stack.processes.items():
            if proc.poll() is not None:
                _say(f"{name} exited with code {proc.returncode}; restarting (see {stack.log_dir}/{name}.log)")
                try:
                    stack.restart(name)
                except Exception as exc:  # noqa: BLE001
                    _say(f"{name} failed to restart: {exc}")
                    stopping.set()
                break
        stopping.wait(1.0)
    _say("stopping...")
    stack.stop()
    _say("stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
