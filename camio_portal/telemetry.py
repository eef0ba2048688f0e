"""OpenTelemetry's SDK, set up only when an OTLP endpoint is configured.

``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) turns spans on:
they go over OTLP/HTTP in batches, from every process (web, workers), as the service
``OTEL_SERVICE_NAME`` (default ``camio-portal``); the SDK reads its other ``OTEL_*``
variables itself. ``OTEL_SDK_DISABLED=true`` keeps it off. Without an endpoint the SDK is
never imported and callbacks/tracing.py makes no spans.
"""

from __future__ import annotations

import os


def configure() -> bool:
    """Give callbacks.tracing an exporting TracerProvider when an endpoint is set; True
    if spans are on."""
    endpoint = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    if not endpoint or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from callbacks import tracing

    provider = TracerProvider(resource=Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME", "camio-portal")}))
    # The batch processor's thread is started again in a forked child (gunicorn's and
    # Celery's workers) by the SDK itself.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    tracing.use_provider(provider)
    return True
