"""The optional live preview: annotated frames, state, health and metrics over HTTP.

``start_preview(config.preview, pipeline, sink)`` is what the service calls; it imports
the server (aiohttp, prometheus-client: the ``preview`` extra) only when enabled.
"""

from __future__ import annotations

import logging

from edgeapp.errors import EdgeappError
from edgeapp.events import ErrorEvent
from edgeapp.preview.config import PreviewConfig
from edgeapp.preview.rebind import PreviewRebind

log = logging.getLogger(__name__)


def start_preview(config: PreviewConfig, pipeline, sink=None):
    """A started ``PreviewServer`` for ``pipeline``, or None when ``[preview]`` is off; when its address is
    taken, an error event and a ``PreviewRebind`` retrying it (both have ``stop()``).

    ``sink``: the service's event sink; an MQTT publisher among its ``sinks`` adds the
    outbox figures to ``/metrics``."""
    if not config.enabled:
        return None
    try:
        from edgeapp.preview.server import PreviewBindError, PreviewServer
    except ImportError as exc:
        raise EdgeappError(f"[preview] is enabled but {exc.name} is not installed: "
                           "pip install 'edgeapp[preview]'") from None
    publisher = next((s for s in getattr(sink, "sinks", ()) if hasattr(s, "outbox") and callable(getattr(s, "stats", None))),
                     None)

    def open_server():
        return PreviewServer(config, pipeline, mqtt_stats=publisher.stats if publisher else None).start()

    try:
        return open_server()
    except PreviewBindError as exc:  # a busy port costs the preview, not the service (and a restart loop)
        log.error("%s; the service runs without the preview and retries the port", exc)
        if sink is not None:
            sink.publish(ErrorEvent(source="preview", message=f"{exc}; running without the preview, retrying",
                                    detail={"host": config.host, "port": config.port}))
        return PreviewRebind(open_server, PreviewBindError).start()


__all__ = ["PreviewConfig", "start_preview"]
