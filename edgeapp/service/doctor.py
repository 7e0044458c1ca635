"""``edgeapp doctor``: what is fine on this device and what to fix, one row per part."""

from __future__ import annotations

import ctypes
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from edgeapp.config import AppConfig, load_config
from edgeapp.errors import EdgeappError

from edgeapp.runtime.backend import coral_devices

EXIT_WARNINGS = 3  # nothing failed, but something needs a look: not "all fine" (exit 0), not a failure (exit 1)


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail | skip
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    @property
    def fine(self) -> bool:
        return self.status in ("ok", "skip")


def check_runtime() -> Check:
    try:
        import cv2
        import numpy

        from edgeapp.runtime.litert import RUNTIME_NAME
    except Exception as exc:  # an install problem: say which import broke
        return Check("runtime", "fail", f"cannot import the runtime: {exc}; reinstall edgeapp into its venv")
    return Check("runtime", "ok", f"{RUNTIME_NAME}, numpy {numpy.__version__}, OpenCV {cv2.__version__}")


def check_models(config: AppConfig) -> Iterator[Check]:
    from edgeapp.service.model_check import check_models as model_rows

    for row in model_rows(config):  # the same check as `edgeapp config check`
        name = "models dir" if row.task == "runtime" else f"model {row.name}"
        yield Check(name, "fail", str(row.problem)) if row.problem else Check(name, "ok", row.detail)


def check_camera(config: AppConfig, timeout_s: float = 10.0) -> Check:
    from edgeapp.camera.sources import open_service_source

    try:
        source = open_service_source(config.source)
    except EdgeappError as exc:
        return Check("camera", "fail", str(exc))
    got: list = []

    def first_frame():
        try:
            for frame in source.frames():
                got.append(frame)
                return
        except Exception as exc:  # reported below as the camera's failure
            got.append(exc)

    t = threading.Thread(target=first_frame, daemon=True)
    t.start()
    status = getattr(source, "status", None)
    # The first failure is the answer: a missing device or a refused stream is said at once, not after the
    # timeout (the service would retry it; the doctor reports what it found).
    deadline = time.monotonic() + timeout_s
    while t.is_alive() and time.monotonic() < deadline and not (status and status.outages):
        t.join(0.05)
    source.close()
    if got and not isinstance(got[0], Exception):
        w, h = got[0].size
        return Check("camera", "ok", f"{config.source.uri}: {w}x{h} frames")
    if got:
        return Check("camera", "fail", f"{config.source.uri}: {got[0]}")
    if status and status.last_error:
        return Check("camera", "fail", f"{config.source.uri}: {status.last_error}")
    return Check("camera", "fail", f"{config.source.uri}: no frame within {timeout_s:.0f} s")


def check_edgetpu(config: AppConfig) -> Check:
    rt = config.runtime
    if rt.backend == "cpu":
        return Check("edge tpu", "skip", "runtime.backend is cpu")
    devices = coral_devices()
    try:
        ctypes.CDLL(rt.delegate)
        library = f"{rt.delegate} loads"
    except OSError as exc:
        library = f"{rt.delegate} missing ({exc}); install libedgetpu1-std"
        if not devices:  # under auto, a machine that never had a Coral is fine on the CPU
            if rt.backend == "edgetpu":
                return Check("edge tpu", "fail", f"no Coral found and {library}")
            return Check("edge tpu", "skip", "no Coral attached and no libedgetpu: models run on the CPU (backend auto)")
        return Check("edge tpu", "fail", f"{', '.join(devices)} present but {library}")
    if not devices:
        status = "fail" if rt.backend == "edgetpu" else "warn"
        return Check("edge tpu", status, f"{library}, but no Coral is plugged in (lsusb: 1a6e:089a or 18d1:9302)")
    return Check("edge tpu", "ok", f"{', '.join(devices)}; {library}")


def check_broker(config: AppConfig, timeout_s: float = 5.0) -> Check:
    if not config.mqtt.enabled:
        return Check("broker", "skip", "no [mqtt] table")
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    m = config.mqtt
    where = f"{m.host}:{m.port}"
    result: list = []
    done = threading.Event()
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"{m.effective_client_id}-doctor")

    def on_connect(_c, _u, _f, reason, _p):
        result.append(reason)
        done.set()

    client.on_connect = on_connect
    try:
        if m.username:
            client.username_pw_set(m.username, m.password())
        if m.use_tls:
            client.tls_set(ca_certs=m.tls_ca, certfile=m.tls_cert, keyfile=m.tls_key)
            client.tls_insecure_set(not m.tls_check_hostname)
        client.connect(m.host, m.port, keepalive=10)
        client.loop_start()
        done.wait(timeout_s)
    except (OSError, ValueError, EdgeappError) as exc:
        return Check("broker", "fail", f"{where}: {exc}")
    finally:
        client.loop_stop()
        client.disconnect()
    if not result:
        return Check("broker", "fail", f"{where}: no answer within {timeout_s:.0f} s")
    if result[0].is_failure:
        return Check("broker", "fail", f"{where}: {result[0]} (check username/password_file and the broker's ACL)")
    return Check("broker", "ok", f"{where} accepted us{' over TLS' if m.use_tls else ''}")


def check_rig(config: AppConfig) -> Check:
    if not config.tasks.track:
        return Check("pan/tilt rig", "skip", "tasks.track is off")
    from edgeapp.pantilt.rig import open_rig

    p = config.pantilt
    try:
        rig = open_rig(p)
    except Exception as exc:  # gpiozero / smbus raise their own types for missing pins and buses
        return Check("pan/tilt rig", "fail", f"cannot open the {p.rig} rig: {exc}; check wiring, "
                                             "dtparam=i2c_arm=on for the HAT, and the gpio/i2c groups")
    rig.stop(home=(p.pan.home, p.tilt.home))
    return Check("pan/tilt rig", "ok", f"{p.rig} rig answers; `edgeapp pantilt test --rig {p.rig}` sweeps it")


def run_checks(config_path: str, camera_timeout_s: float = 10.0) -> list[Check]:
    checks = [check_runtime()]
    try:
        config = load_config(config_path)
    except EdgeappError as exc:
        return checks + [Check("config", "fail", str(exc))]
    checks.append(Check("config", "ok", config_path))
    steps: list[Callable[[], object]] = [
        lambda: list(check_models(config)),
        lambda: check_camera(config, camera_timeout_s),
        lambda: check_edgetpu(config),
        lambda: check_rig(config),
        lambda: check_broker(config),
    ]
    for step in steps:
        out = step()
        checks += out if isinstance(out, list) else [out]  # type: ignore[list-item]
    return checks


def print_checks(checks: list[Check]) -> None:
    width = max(len(c.name) for c in checks)
    marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "skip"}
    for c in checks:
        print(f"{c.name:<{width}}  {marks[c.status]}  {c.detail}")
    failed = [c.name for c in checks if c.failed]
    warned = [c.name for c in checks if not c.fine and not c.failed]
    print(f"\n{sum(c.fine for c in checks)} of {len(checks)} fine" + (f"; fix: {', '.join(failed)}" if failed else "")
          + (f"; look at: {', '.join(warned)}" if warned else ""))


def exit_status(checks: list[Check]) -> int:
    """0 only when every check is fine; 1 when any failed; EXIT_WARNINGS when the worst is a warning."""
    if any(c.failed for c in checks):
        return 1
    return 0 if all(c.fine for c in checks) else EXIT_WARNINGS
