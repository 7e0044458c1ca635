"""The preview HTTP server: aiohttp on its own thread and event loop.

Routes: ``/`` the kiosk page, ``/stream.mjpg`` the annotated frames (MJPEG),
``/state.json`` the latest state, ``/healthz`` (200 while the frame loop turns),
``/metrics`` (Prometheus text).

Cost rules, because the preview must never slow inference:

* nothing is drawn or encoded unless a ``/stream.mjpg`` viewer is connected; the
  frame loop is not touched at all (no ``on_frame`` hook): the server reads
  ``pipeline.latest`` when it wants a frame;
* with viewers, one producer draws and encodes the newest frame at most
  ``max_fps`` times a second on the server's own render thread, and every viewer
  gets that same JPEG (a second viewer costs a socket write, not a render);
* a slow viewer skips frames instead of queueing them.

``start()`` binds (errors surface there, in the caller's thread), ``stop()`` ends
the streams and closes the socket. No global state: several servers may run in a
process, each with its own metrics registry.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hmac
import json
import logging
import os
import resource
import threading
import time
from importlib import resources
from typing import Any, Callable

import cv2
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from edgeapp.errors import ConfigError, EdgeappError
from edgeapp.preview import overlay
from edgeapp.preview.config import PreviewConfig, is_loopback
from edgeapp.preview.guard import ConnectionGuard
from edgeapp.preview.metrics import PipelineCollector, exposition, new_registry
from edgeapp.preview.state import annotated, describe

log = logging.getLogger(__name__)

BOUNDARY = "edgeappframe"
KEEPALIVE_S = 1.0  # a viewer with no new frame gets the last one again: a gone viewer is noticed by the write
OPEN_PATHS = frozenset({"/healthz"})  # probes carry no token; the answer says only up or down
SHUTDOWN_S = 2.0
WRITE_TIMEOUT_S = 10.0  # a viewer not taking a frame for this long is dropped
RESERVED_FDS = 256  # file handles the rest of the service (and one accept burst of LISTEN_BACKLOG) may need
LISTEN_BACKLOG = 128  # asyncio accepts up to this many at once, each a file handle until the guard decides
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'none'")


class PreviewBindError(EdgeappError):
    """The preview's address is taken or not there: the service goes on without it (and retries)."""


class PreviewServer:
    """``PreviewServer(config, pipeline).start()`` ... ``stop()``.

    ``mqtt_stats``: the MQTT publisher's ``stats`` method, for the outbox figures in ``/metrics``.
    ``render``: the drawing function (``overlay.render``'s signature); tests count its calls."""

    def __init__(self, config: PreviewConfig, pipeline, mqtt_stats: Callable | None = None,
                 render: Callable[..., Any] = overlay.render):
        self.config = config
        self.pipeline = pipeline
        self.token = config.resolve_token()
        if not self.token and not config.loopback:  # also checked when the config is read; never serve exposed
            raise ConfigError("preview.token", f"required when host is not loopback (host {config.host!r})")
        self._render = render
        self._mqtt_stats = mqtt_stats
        self.frames_rendered = 0  # written by the render thread only
        self.viewers = 0  # changed on the event loop only
        self.registry = new_registry(PipelineCollector(
            pipeline, mqtt_stats, lambda: {"viewers": self.viewers, "frames_rendered": self.frames_rendered,
                                        "render_cpu_s": self.render_cpu_s}))
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.AbstractServer | None = None
        self.guard: ConnectionGuard | None = None
        self.render_cpu_s = 0.0  # CPU time the render thread spent drawing and encoding
        self._render_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="preview-render",
                                                                  initializer=_lower_priority)
        # Event-loop state, created on the loop:
        self._closing: asyncio.Event | None = None
        self._has_viewers: asyncio.Event | None = None
        self._new_frame: asyncio.Event | None = None
        self._producer: asyncio.Task | None = None
        self._jpeg: bytes | None = None
        self._seq = 0
        self._render_failed = False

    # -- life ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"http://{host}:{self.port}/"

    def start(self) -> PreviewServer:
        ready: concurrent.futures.Future = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="preview", daemon=True)
        self._thread.start()
        try:
            ready.result(timeout=30)
        except OSError as exc:
            self._thread.join(5)
            self._render_pool.shutdown(wait=False)
            raise PreviewBindError(f"preview: cannot listen on {self.config.host}:{self.config.port} "
                                   f"(preview.host/preview.port): {exc.strerror or exc}") from None
        log.info("preview on %s", self.url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """End the streams, close the socket, join the thread. Safe to call twice."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
        except Exception:  # stopping must not turn a clean service stop into a crash
            log.warning("preview did not shut down cleanly", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
        self._render_pool.shutdown(wait=False)

    def __enter__(self) -> PreviewServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _serve(self, ready: concurrent.futures.Future) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._open())
        except BaseException as exc:
            ready.set_exception(exc)
            loop.close()
            return
        self._loop = loop
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _open(self) -> None:
        self._closing, self._has_viewers, self._new_frame = asyncio.Event(), asyncio.Event(), asyncio.Event()
        app = web.Application(middlewares=[self._admit, self._auth])
        app.on_response_prepare.append(_security_headers)
        app.router.add_get("/", self._page)
        app.router.add_get("/stream.mjpg", self._stream)
        app.router.add_get("/state.json", self._state)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        # No access log: the page polls /state.json four times a second and journald would fill with it.
        # An idle kept-alive connection is closed as soon as a slow request head would be.
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_S,
                                     keepalive_timeout=self.config.header_timeout_s)
        await self._runner.setup()
        assert self._runner.server is not None
        self.guard = ConnectionGuard(self._runner.server, connection_cap(self.config.max_connections),
                                     self.config.header_timeout_s)
        try:
            self._listener = await asyncio.get_running_loop().create_server(
                self.guard, self.config.host, self.config.port, backlog=LISTEN_BACKLOG)
        except BaseException:
            await self._runner.cleanup()
            raise
        self.port = self._listener.sockets[0].getsockname()[1]
        self._producer = asyncio.get_running_loop().create_task(self._produce(), name="preview-producer")

    async def _shutdown(self) -> None:
        assert self._closing is not None and self._new_frame is not None
        self._closing.set()
        self._new_frame.set()  # wakes every viewer, which then sees _closing
        if self._producer is not None:
            self._producer.cancel()
        if self._listener is not None:
            self._listener.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- health --------------------------------------------------------------------------
    def health(self) -> tuple[bool, str]:
        """Healthy while the frame loop turns: it beats ``progress_at`` every turn, at least
        every 0.5 s even without frames, so a stale beat means stopped or stuck."""
        if not self.pipeline.running:
            return False, "frame loop stopped"
        age = time.monotonic() - self.pipeline.progress_at
        if age > self.config.stall_s:
            return False, f"frame loop has not turned for {age:.1f} s"
        camera = self.pipeline.camera()
        if camera["state"] == "down":
            return False, f"camera down for {camera.get('since_s', 0):.0f} s: {camera['last_error']}"
        if self._mqtt_stats is not None:
            m = self._mqtt_stats()
            if m.store_failing:
                return False, "degraded: the outbox cannot store events (a damaged file?); they are counted as lost"
            if m.outbox_in_memory:
                return False, "degraded: the outbox file cannot be written (read-only, failing or full disk?); events wait in memory"
        return True, "ok"

    # -- frames --------------------------------------------------------------------------
    async def _produce(self) -> None:
        """Draw + encode the newest frame, at most max_fps times a second, while anyone watches."""
        assert self._closing and self._has_viewers and self._new_frame
        loop = asyncio.get_running_loop()
        period = 1.0 / self.config.max_fps
        last_frame = None
        while not self._closing.is_set():
            if self.viewers == 0:
                self._has_viewers.clear()
                await self._has_viewers.wait()  # zero cost with nobody watching
                continue
            began = loop.time()
            result = self.pipeline.latest
            if result is not None and result.frame is not last_frame:
                last_frame = result.frame
                jpeg = await loop.run_in_executor(self._render_pool, self._encode, result)
                if jpeg is not None:
                    self._jpeg, self._seq = jpeg, self._seq + 1
                    woken, self._new_frame = self._new_frame, asyncio.Event()
                    woken.set()
            await asyncio.sleep(max(0.0, period - (loop.time() - began)))

    def _encode(self, result) -> bytes | None:
        """On the render thread: the annotated frame as JPEG (None if drawing failed)."""
        began = time.thread_time()
        try:
            image = annotated(self.pipeline, result, self._render)
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.config.jpeg_quality])
        except Exception:
            if not self._render_failed:  # once: a drawing bug must not flood the journal at max_fps
                log.exception("preview: drawing frame %s failed", result.frame.index)
            self._render_failed = True
            return None
        finally:
            self.render_cpu_s += time.thread_time() - began
        self.frames_rendered += 1
        return buf.tobytes() if ok else None

    # -- handlers ------------------------------------------------------------------------
    @web.middleware
    async def _admit(self, request: web.Request, handler):
        """A request head arrived: the guard stops its clock. Without a token, only loopback Host
        names are answered: a web page on another site cannot rebind its DNS name to 127.0.0.1 and
        read the camera through a browser on this machine."""
        if self.guard is not None:
            self.guard.started(request.transport)
        if not self.token and request.path not in OPEN_PATHS and not self._host_allowed(request.host):
            return web.json_response({"error": "unexpected Host header; use http://127.0.0.1:PORT/ or a token"},
                                     status=421)
        return await handler(request)

    def _host_allowed(self, host: str) -> bool:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
        name = name.strip("[]").lower()
        return is_loopback(name) or name == self.config.host.strip("[]").lower()

    @web.middleware
    async def _auth(self, request: web.Request, handler):
        if self.token and request.path not in OPEN_PATHS and not self._authorised(request):
            return web.json_response({"error": "a token is required: ?token=... or Authorization: Bearer ..."},
                                     status=401, headers={"WWW-Authenticate": 'Bearer realm="edgeapp"'})
        return await handler(request)

    def _authorised(self, request: web.Request) -> bool:
        given = request.query.get("token", "")
        header = request.headers.get("Authorization", "")
        if not given and header[:7].lower() == "bearer ":
            given = header[7:].strip()
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    async def _page(self, request: web.Request) -> web.Response:
        html = resources.files("edgeapp.preview").joinpath("page.html").read_bytes()
        return web.Response(body=html, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    async def _state(self, request: web.Request) -> web.Response:
        state = describe(self.pipeline)
        state["healthy"] = self.health()[0]
        return web.Response(text=json.dumps(state), content_type="application/json",
                            headers={"Cache-Control": "no-store"})

    async def _healthz(self, request: web.Request) -> web.Response:
        ok, reason = self.health()
        return web.json_response({"ok": ok, "reason": reason, "frames": self.pipeline.stats.frames,
                                  "camera": self.pipeline.camera()["state"]}, status=200 if ok else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        body = exposition(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        assert self._closing and self._has_viewers and self._new_frame
        response = web.StreamResponse(headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            "Cache-Control": "no-store, no-cache, must-revalidate", "Pragma": "no-cache"})
        await response.prepare(request)
        self.viewers += 1
        self._has_viewers.set()
        try:
            # Each part ends with the next boundary, so a browser shows a frame as soon as it is
            # complete instead of waiting for the following one.
            await response.write(f"--{BOUNDARY}\r\n".encode())
            seen = 0
            while not self._closing.is_set():
                if self._seq == seen:
                    try:
                        await asyncio.wait_for(self._new_frame.wait(), KEEPALIVE_S)
                    except asyncio.TimeoutError:
                        pass
                if self._closing.is_set():
                    break
                jpeg, seen = self._jpeg, self._seq
                if jpeg is not None:
                    # A viewer that stops reading (a frozen tab) would otherwise count as watching,
                    # and keep the frames being drawn, for as long as its socket stays open.
                    await asyncio.wait_for(response.write(
                        b"Content-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n--%s\r\n"
                        % (len(jpeg), jpeg, BOUNDARY.encode())), WRITE_TIMEOUT_S)
        except (ConnectionError, asyncio.TimeoutError):
            pass  # the viewer went away or stopped reading
        finally:
            self.viewers -= 1
        return response


def connection_cap(wanted: int) -> int:
    """``wanted``, or fewer when the process's file handle limit would not leave ``RESERVED_FDS`` for
    the camera, the models, the outbox and the broker (outside systemd the soft limit is often 1,024)."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY or soft - RESERVED_FDS >= wanted:
        return wanted
    cap = max(8, soft - RESERVED_FDS)
    log.info("preview: at most %d connections (preview.max_connections %d does not fit in %d file handles)",
             cap, wanted, soft)
    return cap


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    # The page loads nothing from elsewhere and is never framed (clickjacking); the stream is same-origin.
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")


def _lower_priority() -> None:
    """The render thread yields the CPU to inference: nice +10 for this thread only (Linux)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + 10)
    except (AttributeError, OSError):
        pass  # not Linux, or not allowed: run at the normal priority
