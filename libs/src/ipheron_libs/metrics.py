"""Prometheus metrics with the names the seed guide uses, defined once per process."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

API_REQUESTS = Counter("api_requests_total", "API requests", ["endpoint", "status"])
API_DURATION = Histogram(
    "api_duration_seconds",
    "API request duration",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CACHE_HITS = Counter("cache_hits_total", "Cache hits", ["cache"])
CACHE_MISSES = Counter("cache_misses_total", "Cache misses", ["cache"])
AI_PREDICTIONS = Counter("ai_predictions_total", "AI agent decisions", ["agent"])
BLOCKCHAIN_TRANSACTIONS = Counter("blockchain_transactions_total", "Blockchain transactions", ["type", "status"])
DATABASE_QUERIES = Counter("database_queries_total", "Database queries", ["operation"])
GRPC_REQUESTS = Counter("grpc_server_requests_total", "gRPC requests handled", ["method", "code"])
# Events a consumer could not read (broken envelope, contract violation, handler parse error),
# moved to the dead-letter stream ipheron:events:dead; any increase is an alert.
EVENTS_DEAD_LETTERED = Counter(
    "events_dead_lettered_total", "Domain events moved to the dead-letter stream", ["group", "type", "reason"]
)
