"""The optional live preview: annotated frames, state, health and metrics over HTTP.

``start_preview(config.preview, pipeline, sink)`` is what the service calls; it imports
the server (aiohttp, prometheus-client: the ``preview`` extra) only when enabled.
"""

from __future__ import annotations

from edgeapp.errors import EdgeappError
from edgeapp.preview.config import PreviewConfig


def start_preview(config: PreviewConfig, pipeline, sink=None):
    """A started ``PreviewServer`` for ``pipeline``, or None when ``[preview]`` is off.

    ``sink``: the service's event sink; an MQTT publisher among its ``sinks`` adds the
    outbox figures to ``/metrics``."""
    if not config.enabled:
        return None
    try:
        from edgeapp.preview.server import PreviewServer
    except ImportError as exc:
        raise EdgeappError(f"[preview] is enabled but {exc.name} is not installed: "
                           "pip install 'edgeapp[preview]'") from None
    publisher = next((s for s in getattr(sink, "sinks", ()) if hasattr(s, "outbox") and callable(getattr(s, "stats", None))),
                     None)
    return PreviewServer(config, pipeline, mqtt_stats=publisher.stats if publisher else None).start()


__all__ = ["PreviewConfig", "start_preview"]
