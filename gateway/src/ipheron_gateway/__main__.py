"""python -m ipheron_gateway: serve the REST API with uvicorn (uvloop + httptools)."""

from __future__ import annotations

import uvicorn
from ipheron_libs import telemetry
from ipheron_libs.service import tune_gc

from ipheron_gateway.app import create_app
from ipheron_gateway.config import GatewaySettings


def main() -> None:
    tune_gc()
    settings = GatewaySettings()
    telemetry.setup("gateway", log_level=settings.log_level, trace_file=settings.trace_file,
                    otlp_endpoint=settings.otel_exporter_otlp_endpoint, sample_ratio=settings.trace_sample_ratio)
    # proxy_headers off: uvicorn would otherwise rewrite the client address from
    # X-Forwarded-For (trusting 127.0.0.1) before the rate limiter sees it. Which
    # proxies are trusted is decided in one place, GATEWAY_TRUSTED_PROXIES.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, loop="uvloop", http="httptools",
                access_log=False, log_config=None, lifespan="on", timeout_graceful_shutdown=10,
                proxy_headers=False)


if __name__ == "__main__":
    main()
