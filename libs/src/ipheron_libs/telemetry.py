"""One telemetry module: JSON logs carrying trace and span ids, and OpenTelemetry
tracing with W3C context propagated across HTTP, gRPC and into database spans.

Spans go to an OTLP collector when OTEL_EXPORTER_OTLP_ENDPOINT is set, and to a
JSON-lines file when IPHERON_TRACE_FILE is set (used by the end-to-end tests to
prove one trace crosses gateway, service and database).
"""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from sqlalchemy import Engine, event

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_SECRET_KEYS = ("password", "secret", "token", "signature", "private", "authorization")


class JsonFormatter(logging.Formatter):
    """One JSON object per line with service, trace id, span id and request id."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            doc["trace_id"] = format(ctx.trace_id, "032x")
            doc["span_id"] = format(ctx.span_id, "016x")
        rid = request_id_var.get()
        if rid:
            doc["request_id"] = rid
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            doc.update(
                {k: ("[redacted]" if any(s in k.lower() for s in _SECRET_KEYS) else v) for k, v in extra.items()}
            )
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class JsonLinesSpanExporter(SpanExporter):
    """Appends finished spans as JSON lines; safe for several processes (O_APPEND, one write per batch)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for s in spans:
            ctx = s.get_span_context()
            if ctx is None:
                continue
            parent = s.parent
            lines.append(
                orjson.dumps(
                    {
                        "name": s.name,
                        "service": s.resource.attributes.get("service.name"),
                        "trace_id": format(ctx.trace_id, "032x"),
                        "span_id": format(ctx.span_id, "016x"),
                        "parent_id": format(parent.span_id, "016x") if parent else None,
                        "kind": s.kind.name,
                        "start": s.start_time,
                        "end": s.end_time,
                        "attributes": dict(s.attributes or {}),
                    },
                    default=str,
                )
            )
        with self._lock, open(self.path, "ab") as fh:
            fh.write(b"\n".join(lines) + b"\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


_provider: TracerProvider | None = None


def setup(service: str, *, log_level: str = "INFO", trace_file: Path | None = None,
          otlp_endpoint: str | None = None, sample_ratio: float = 1.0) -> None:
    """Configure logging and tracing for this process (idempotent)."""
    global _provider
    root = logging.getLogger()
    root.setLevel(log_level.upper())
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter(service))
        root.handlers = [handler]
    if _provider is not None:
        return
    if trace_file is None and not otlp_endpoint:
        # No exporter: keep the no-op tracer, so unexported spans cost nothing.
        # Incoming trace context is still propagated to the services we call.
        return
    provider = TracerProvider(
        resource=Resource.create({"service.name": service}),
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
    )
    if trace_file is not None:
        provider.add_span_processor(
            BatchSpanProcessor(JsonLinesSpanExporter(Path(trace_file)), schedule_delay_millis=200)
        )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    trace.set_tracer_provider(provider)
    _provider = provider


def exporting() -> bool:
    """True when this process exports spans (setup found an exporter)."""
    return _provider is not None


def shutdown() -> None:
    """Flush pending spans (on graceful stop)."""
    if _provider is not None:
        _provider.force_flush()
        _provider.shutdown()


def tracer(name: str = "ipheron") -> trace.Tracer:
    return trace.get_tracer(name)


def inject_metadata(metadata: list[tuple[str, str]]) -> None:
    """Add the current trace context (traceparent) to outgoing gRPC metadata."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    metadata.extend(carrier.items())


def extract_context(pairs: Iterable[tuple[str, Any]] | None) -> Any:
    """Read a trace context from incoming metadata or headers."""
    carrier = {k.lower(): v for k, v in (pairs or ()) if isinstance(v, str)}
    return propagate.extract(carrier)


def instrument_engine(engine: Engine, db_name: str) -> None:
    """A client span per statement, child of whatever span is current (the RPC's)."""
    t = tracer("ipheron.db")

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if not trace.get_current_span().get_span_context().is_valid:
            return
        span = t.start_span(
            f"db {statement.lstrip()[:6].upper()}",
            kind=trace.SpanKind.CLIENT,
            attributes={"db.system": "postgresql", "db.name": db_name, "db.statement": statement[:500]},
        )
        conn.info.setdefault("ipheron_spans", []).append(span)

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        spans = conn.info.get("ipheron_spans")
        if spans:
            spans.pop().end()

    @event.listens_for(engine, "handle_error")
    def _error(ctx):  # type: ignore[no-untyped-def]
        spans = ctx.connection.info.get("ipheron_spans") if ctx.connection is not None else None
        if spans:
            span = spans.pop()
            span.set_status(trace.Status(trace.StatusCode.ERROR))
            span.end()


def setup_service(service: str, settings: Any) -> None:
    """`setup` from a ServiceSettings, plus the process's Prometheus endpoint when
    `metrics_port` is set: what every service's __main__ does first."""
    setup(service, log_level=settings.log_level, trace_file=settings.trace_file,
          otlp_endpoint=settings.otel_exporter_otlp_endpoint, sample_ratio=settings.trace_sample_ratio)
    port = getattr(settings, "metrics_port", None)
    if port:
        from prometheus_client import start_http_server

        try:
            start_http_server(port, addr=getattr(settings, "metrics_host", "127.0.0.1"))
        except OSError:
            logging.getLogger("ipheron.telemetry").warning("metrics port %d is taken; /metrics disabled", port)
