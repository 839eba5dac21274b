"""`python -m ipheron_libs.healthcheck`: the container HEALTHCHECK, exit 0 when healthy, 1 when not.

A gRPC service is asked `grpc.health.v1.Health/Check` on its plaintext health-only port
(`<SVC>_HEALTH_PORT`, the port kubelet's native gRPC probe uses; it serves nothing else), so the
check needs no client certificate. The gateway is asked `GET /health/live` over HTTP. Which of the
two, and where, comes from the image's environment: `IPHERON_HEALTHCHECK=grpc:<port>` or
`http:<port><path>` (set in each Dockerfile).
"""

from __future__ import annotations

import os
import sys
import urllib.request

TIMEOUT_S = 3.0


def _grpc_serving(port: int) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT_S)  # type: ignore[attr-defined]
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def _http_ok(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT_S) as reply:  # noqa: S310
            return bool(200 <= reply.status < 300)
    except OSError:
        return False


def target(env: dict[str, str]) -> tuple[str, int, str]:
    """(kind, port, path) the check asks; ValueError when the environment names none."""
    spec = env.get("IPHERON_HEALTHCHECK", "")
    kind, _, rest = spec.partition(":")
    port, slash, path = rest.partition("/")
    if kind not in ("grpc", "http") or not port.isdigit():
        raise ValueError(f"IPHERON_HEALTHCHECK={spec!r}: expected grpc:<port> or http:<port>/<path>")
    return kind, int(port), (slash + path) or "/"


def main() -> int:
    try:
        kind, port, path = target(dict(os.environ))
    except ValueError as exc:
        sys.stderr.write(f"healthcheck: {exc}\n")
        return 2
    healthy = _grpc_serving(port) if kind == "grpc" else _http_ok(port, path)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
