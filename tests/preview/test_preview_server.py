"""The preview server in-process against a pipeline stand-in fed with real frame results."""

from __future__ import annotations

import http.client
import logging
import socket
import threading
import time

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edgeapp.detect.detection import Detection
from edgeapp.bench.preview import MjpegViewer
from edgeapp.errors import ConfigError, EdgeappError
from edgeapp.mqtt.publisher import MqttStats
from edgeapp.preview import overlay, start_preview
from edgeapp.preview.config import PreviewConfig
from edgeapp.preview.server import PreviewServer

from .conftest import FakePipeline, get, get_json, wait_until

TOKEN = "s3cret-token-0123456789"


class CountingRender:
    """overlay.render, counting its calls and the threads they ran on."""

    def __init__(self):
        self.calls = 0
        self.threads: set[str] = set()

    def __call__(self, *args, **kw):
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        return overlay.render(*args, **kw)


def serve(pipeline, render=None, **preview) -> PreviewServer:
    config = PreviewConfig(enabled=True, port=0, **preview)
    return PreviewServer(config, pipeline, render=render or overlay.render).start()


def metrics(url: str, **kw) -> dict[str, float]:
    status, body, headers = get(url + "metrics", **kw)
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            key = s.name + ("{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}" if s.labels else "")
            out[key] = s.value
    return out


def test_nothing_is_drawn_without_a_viewer_and_at_most_max_fps_with_one(fake_pipeline):
    render = CountingRender()
    with serve(fake_pipeline, render, max_fps=5) as server:
        # State, health and metrics are served all along: none of them draws.
        for _ in range(5):
            assert get_json(server.url + "state.json")[0] == 200
            assert get(server.url + "healthz")[0] == 200
            metrics(server.url)
        time.sleep(0.5)
        assert render.calls == 0 and server.frames_rendered == 0

        viewer = MjpegViewer("127.0.0.1", server.port)
        viewer.start()
        wait_until(lambda: viewer.frames >= 3, 5, what="3 frames at the viewer")
        t0, n0 = time.monotonic(), render.calls
        time.sleep(1.0)
        calls, elapsed = render.calls - n0, time.monotonic() - t0
        # The pipeline makes 30 frames a second; the preview draws at most 5 of them (one more can fall in the window).
        assert 2 * elapsed <= calls <= 5 * elapsed + 1, (calls, elapsed)
        assert render.threads == {"preview-render_0"}, "drawn on the server's own render thread"

        second = MjpegViewer("127.0.0.1", server.port)
        second.start()
        wait_until(lambda: server.viewers == 2 and second.frames >= 2, 5, what="a second viewer")
        t0, n0 = time.monotonic(), render.calls
        time.sleep(1.0)
        assert render.calls - n0 <= 5 * (time.monotonic() - t0) + 1, "a second viewer shares the frames"

        viewer.close()
        second.close()
        wait_until(lambda: server.viewers == 0, 5, what="the viewers leaving")
        time.sleep(0.3)
        stopped_at = render.calls
        time.sleep(0.6)
        assert render.calls == stopped_at, "drawing stops with the last viewer"
        m = metrics(server.url)
        assert m["edgeapp_preview_viewers"] == 0 and m["edgeapp_preview_frames_rendered_total"] == stopped_at


def test_stream_is_multipart_jpeg_of_the_newest_frame(fake_pipeline):
    with serve(fake_pipeline) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("GET", "/stream.mjpg")
        r = conn.getresponse()
        assert r.status == 200 and r.getheader("Content-Type") == "multipart/x-mixed-replace; boundary=edgeappframe"
        assert r.readline() == b"--edgeappframe\r\n"
        frames = []
        for _ in range(2):
            assert r.readline() == b"Content-Type: image/jpeg\r\n"
            n = int(r.readline().split(b":")[1])
            assert r.readline() == b"\r\n"
            frames.append(r.read(n))
            assert r.readline() == b"\r\n" and r.readline() == b"--edgeappframe\r\n"
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        import cv2

        images = [cv2.imdecode(np.frombuffer(f, np.uint8), cv2.IMREAD_COLOR) for f in frames]
        assert all(i.shape == (240, 320, 3) for i in images)
        assert not np.array_equal(images[0], images[1]), "each part is a newer frame"


def test_state_json(fake_pipeline):
    with serve(fake_pipeline) as server:
        wait_until(lambda: fake_pipeline.latest is not None, 2)
        status, state = get_json(server.url + "state.json")
        assert status == 200 and state["healthy"] is True
        assert state["pose"]["label"] == "tree" and state["pose"]["score"] == 0.9 and state["pose"]["held_s"] >= 0
        assert state["backend"] == "cpu" and state["fallback"] is False and state["person"] is True
        assert isinstance(state["frame"], int) and state["fps"] == pytest.approx(30.0)
        assert state["detections"] == [] and state["target"] is None


def test_detections_and_target_are_shown_when_the_result_carries_them(fake_pipeline):
    class WithDetections(FakePipeline):
        def result(self, index):
            r = super().result(index)
            r.detections = [Detection("person", 0, 0.8, (0.1, 0.1, 0.5, 0.9), id=3)]
            r.target = 3
            return r

    p = WithDetections().start()
    try:
        with serve(p) as server:
            wait_until(lambda: p.latest is not None, 2)
            state = get_json(server.url + "state.json")[1]
            assert state["detections"] == [{"label": "person", "score": 0.8, "box": [0.1, 0.1, 0.5, 0.9], "id": 3}]
            assert state["target"] == {"id": 3}
    finally:
        p.stop()


def test_metrics_parse_as_prometheus_text_with_the_stats_figures(fake_pipeline):
    mqtt = MqttStats(connected=True, last_error=None, connections=1, last_seq=40, delivered=38, outbox_depth=2,
                     outbox_bytes=900, outbox_dropped=1, handoff_dropped=4, pose_rate_limited=0, encode_errors=0,
                     store_errors=2, commands_accepted=0, commands_rejected=0, lost=7, store_failing=True,
                     errors_suppressed=5)
    config = PreviewConfig(enabled=True, port=0)
    with PreviewServer(config, fake_pipeline, mqtt_stats=lambda: mqtt).start() as server:
        wait_until(lambda: fake_pipeline.stats.frames >= 2, 2)
        m = metrics(server.url)
    stats = fake_pipeline.stats_event()
    assert m["edgeapp_uptime_seconds"] == stats.uptime_s
    assert m["edgeapp_fps"] == pytest.approx(30.0)
    assert m["edgeapp_frames_total"] >= 2 and m["edgeapp_dropped_frames_total"] == 3
    assert m["edgeapp_model_invoke_seconds{model=pose,quantile=0.5}"] == pytest.approx(0.0075)
    assert m["edgeapp_model_invoke_seconds{model=pose,quantile=0.95}"] == pytest.approx(0.009)
    assert m["edgeapp_backend_info{backend=cpu}"] == 1 and m["edgeapp_fallback"] == 0
    assert m["edgeapp_mqtt_outbox_depth"] == 2 and m["edgeapp_mqtt_outbox_dropped_total"] == 1
    assert m["edgeapp_mqtt_handoff_dropped_total"] == 4 and m["edgeapp_mqtt_connected"] == 1
    assert m["edgeapp_mqtt_lost_total"] == 7 and m["edgeapp_mqtt_store_failing"] == 1
    assert m["edgeapp_mqtt_store_errors_total"] == 2 and m["edgeapp_mqtt_errors_suppressed_total"] == 5


def test_events_waiting_in_memory_are_a_degraded_health_and_a_gauge(fake_pipeline):
    mqtt = MqttStats(connected=True, last_error=None, connections=1, last_seq=3, delivered=3, outbox_depth=0,
                     outbox_bytes=0, outbox_dropped=0, handoff_dropped=0, pose_rate_limited=0, encode_errors=0,
                     store_errors=0, commands_accepted=0, commands_rejected=0, lost=0, store_failing=False,
                     errors_suppressed=0, outbox_in_memory=True)
    with PreviewServer(PreviewConfig(enabled=True, port=0), fake_pipeline, mqtt_stats=lambda: mqtt).start() as server:
        wait_until(lambda: fake_pipeline.stats.frames >= 1, 2)
        status, body = get_json(server.url + "healthz")
        assert status == 503 and "in memory" in body["reason"], body
        assert metrics(server.url)["edgeapp_mqtt_outbox_in_memory"] == 1


def test_two_pipelines_in_one_process_have_their_own_metrics():
    a, b = FakePipeline(), FakePipeline()
    b.stats.frames = 1234
    with serve(a) as sa, serve(b) as sb:
        assert metrics(sa.url)["edgeapp_frames_total"] == 0
        assert metrics(sb.url)["edgeapp_frames_total"] == 1234


def test_healthz_turns_503_on_a_stall_and_when_stopped(fake_pipeline):
    with serve(fake_pipeline, stall_s=1.0) as server:
        status, body = get_json(server.url + "healthz")
        assert status == 200 and body["ok"] is True
        fake_pipeline.stall.set()  # the loop is alive but stuck
        wait_until(lambda: get(server.url + "healthz")[0] == 503, 3, what="503 after the loop stalled")
        assert "not turned" in get_json(server.url + "healthz")[1]["reason"]
        fake_pipeline.stall.clear()
        wait_until(lambda: get(server.url + "healthz")[0] == 200, 3, what="200 once it turns again")
        fake_pipeline.stop()  # the frame loop has ended
        assert get_json(server.url + "healthz") == (503, {"ok": False, "reason": "frame loop stopped", "camera": "up",
                                                         "frames": fake_pipeline.stats.frames})


def test_token_is_required_when_set_by_query_or_bearer(fake_pipeline):
    with serve(fake_pipeline, host="0.0.0.0", token=TOKEN) as server:
        base = f"http://127.0.0.1:{server.port}/"
        for path in ("", "state.json", "metrics", "stream.mjpg"):
            status, _, headers = get(base + path)
            assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer"), path
            assert get(base + path + "?token=wrong-token-000000000")[0] == 401
        assert get(base + "?token=" + TOKEN)[0] == 200
        assert get(base + "state.json", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
        assert get(base + "metrics", headers={"Authorization": "Bearer nope"})[0] == 401
        assert get(base + "healthz")[0] == 200, "probes need no token; the answer says only up or down"
        viewer = MjpegViewer("127.0.0.1", server.port, TOKEN)
        viewer.start()
        wait_until(lambda: viewer.frames >= 1, 5, what="a frame with the token")
        viewer.close()


def test_an_exposed_server_without_token_refuses_to_start(fake_pipeline):
    # Built directly (not from a checked config): the server checks again.
    with pytest.raises(ConfigError) as e:
        PreviewServer(PreviewConfig(enabled=True, host="0.0.0.0"), fake_pipeline)
    assert e.value.path == "preview.token"


def test_disabled_preview_starts_nothing_and_a_busy_port_is_a_clear_error(fake_pipeline):
    assert start_preview(PreviewConfig(), fake_pipeline) is None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(EdgeappError, match=rf"cannot listen on 127.0.0.1:{port} \(preview.host/preview.port\)"):
            PreviewServer(PreviewConfig(enabled=True, port=port), fake_pipeline).start()


def test_a_busy_port_is_an_error_event_and_the_preview_binds_once_it_is_free(fake_pipeline):
    events = []

    class Sink:
        def publish(self, event):
            events.append(event)
            return True

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    preview = start_preview(PreviewConfig(enabled=True, port=port), fake_pipeline, Sink())  # no exception
    try:
        assert preview is not None and preview.server is None
        assert [(e.source, e.detail["port"]) for e in events] == [("preview", port)]
        assert f"cannot listen on 127.0.0.1:{port}" in events[0].message
        s.close()  # the other program goes away: the retry binds the port
        wait_until(lambda: preview.server is not None, 15, what="the preview bound on a retry")
        assert get(f"http://127.0.0.1:{port}/healthz")[0] in (200, 503)
    finally:
        s.close()
        preview.stop()
    assert preview.server._loop is None  # stopped with the rebind


def test_page_is_served(fake_pipeline):
    with serve(fake_pipeline) as server:
        status, body, headers = get(server.url)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'src="stream.mjpg' not in body and b"stream.mjpg?" in body and b'data-testid="pose-label"' in body


def test_stop_ends_open_streams_promptly(fake_pipeline):
    server = serve(fake_pipeline)
    viewer = MjpegViewer("127.0.0.1", server.port)
    viewer.start()
    wait_until(lambda: viewer.frames >= 1, 5)
    t0 = time.monotonic()
    server.stop()
    assert time.monotonic() - t0 < 3
    viewer.join(5)
    assert not viewer.is_alive()
    server.stop()  # twice is fine


def test_the_service_sink_s_mqtt_publisher_feeds_the_outbox_metrics(fake_pipeline):
    from edgeapp.service.runner import FanOut, PrintSink

    class Publisher:  # what start_preview looks for among the sinks: an outbox and stats()
        outbox = object()

        def stats(self):
            return MqttStats(True, None, 1, 9, 9, 5, 100, 0, 0, 0, 0, 0, 0, 0, 0, False, 0)

        def publish(self, event):
            return True

    sink = FanOut([PrintSink("dev"), Publisher()])
    server = start_preview(PreviewConfig(enabled=True, port=0), fake_pipeline, sink)
    try:
        assert metrics(server.url)["edgeapp_mqtt_outbox_depth"] == 5
    finally:
        server.stop()
    without = start_preview(PreviewConfig(enabled=True, port=0), fake_pipeline, FanOut([PrintSink("dev")]))
    try:
        assert not any(k.startswith("edgeapp_mqtt") for k in metrics(without.url))
    finally:
        without.stop()


def test_every_answer_carries_csp_and_frame_headers(fake_pipeline):
    with serve(fake_pipeline) as server:
        for path in ("", "state.json", "healthz", "metrics"):
            headers = get(server.url + path)[2]
            assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
            assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff", path


def test_without_a_token_only_loopback_host_names_are_answered(fake_pipeline):
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 sends Host: evil.example."""
    with serve(fake_pipeline) as server:
        port = server.port
        assert get(server.url + "state.json", headers={"Host": f"evil.example:{port}"})[0] == 421
        assert get(server.url + "stream.mjpg", headers={"Host": "evil.example"})[0] == 421
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}"):
            assert get(server.url + "state.json", headers={"Host": host})[0] == 200, host
        assert get(server.url + "healthz", headers={"Host": "evil.example"})[0] == 200  # says only up or down
    with serve(fake_pipeline, token=TOKEN) as server:  # a token guards it whatever the name
        assert get(server.url + f"state.json?token={TOKEN}", headers={"Host": "cam.lan"})[0] == 200


def test_a_silent_connection_is_closed_after_the_header_timeout(fake_pipeline):
    with serve(fake_pipeline, header_timeout_s=0.5) as server:
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        s.settimeout(5)
        t0 = time.monotonic()
        assert s.recv(100) == b""  # closed by the server
        assert time.monotonic() - t0 < 4
        s.close()
        assert server.guard.timed_out == 1


def test_300_malformed_requests_make_a_few_short_log_lines(fake_pipeline, monkeypatch):
    """Each used to log a full aiohttp traceback. Through the service's logging setup: a few lines, no stack."""
    import io

    from edgeapp import logs

    monkeypatch.setenv("JOURNAL_STREAM", "8:1")
    out = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.configure(logging.INFO, stream=out)
    try:
        with serve(fake_pipeline) as server:
            for i in range(300):
                with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header %d\r\n\r\n" % i)
                    assert b" 400 " in s.recv(100)
            assert get(server.url + "healthz")[0] == 200
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    lines = out.getvalue().splitlines()
    assert "Traceback" not in out.getvalue()
    aiohttp_lines = [ln for ln in lines if "aiohttp" in ln]
    assert 1 <= len(aiohttp_lines) <= logs.BURST + 1, lines
    print(f"\n300 malformed requests: {len(aiohttp_lines)} log lines ({len(out.getvalue())} bytes), no traceback")
