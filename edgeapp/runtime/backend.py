"""Choosing where a model runs: the Edge TPU, or the CPU with N threads.

``auto`` tries the Edge TPU when the model has an Edge TPU twin and a Coral is
attached; a Coral that is there but cannot be used is a fallback to the CPU twin
(a WARNING, ``fallback: true``). A machine with no Coral at all simply runs on the
CPU: said once at INFO, ``fallback: false``. The reason is kept in
:class:`BackendInfo` so health events can report it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import mmap
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edgeapp.errors import BackendError, ConfigError, ModelError
from edgeapp.runtime import litert

log = logging.getLogger(__name__)

BackendKind = Literal["cpu", "edgetpu", "auto"]
BACKENDS: tuple[str, ...] = ("cpu", "edgetpu", "auto")
DEFAULT_DELEGATE = "libedgetpu.so.1"
MAX_THREADS = 64  # a sanity ceiling on LiteRT threads per model (a Pi has 4 cores), not a tuning choice
EDGETPU_SUFFIX = "_edgetpu.tflite"
_EDGETPU_OP = b"edgetpu-custom-op"
_DEVICE_RE = re.compile(r"^(usb|pci)(:\d+)?$|^:\d+$")
CORAL_USB_IDS = {("1a6e", "089a"): "Coral USB (before firmware load)", ("18d1", "9302"): "Coral USB"}
NO_TPU = "no Edge TPU attached (no Coral on USB or PCIe)"
_CORAL_HINT = (
    "is a Coral plugged in (USB ids 1a6e:089a, then 18d1:9302 after the first inference), "
    "is libedgetpu1-std installed, is the udev rule in place and is the service user in 'plugdev'?"
)


@dataclass(frozen=True)
class BackendRequest:
    """What the configuration asks for."""

    kind: BackendKind = "auto"
    device: str = "usb"
    threads: int = 4
    delegate_library: str = DEFAULT_DELEGATE

    def __post_init__(self) -> None:
        if self.kind not in BACKENDS:
            raise ConfigError("backend", f"must be one of {', '.join(BACKENDS)}, got {self.kind!r}")
        if self.device and not _DEVICE_RE.match(self.device):
            raise ConfigError("edgetpu.device", f"must be usb, pci, usb:N, pci:N or :N, got {self.device!r}")
        if not 1 <= self.threads <= MAX_THREADS:
            raise ConfigError("threads", f"must be between 1 and {MAX_THREADS}, got {self.threads!r}")


@dataclass(frozen=True)
class BackendInfo:
    """Where a model ended up running, and why."""

    requested: str
    backend: Literal["cpu", "edgetpu"]
    model_path: Path
    fallback: bool = False
    reason: str = ""
    device: str | None = None
    threads: int | None = None

    def as_dict(self) -> dict:
        return {
            "requested": self.requested,
            "backend": self.backend,
            "fallback": self.fallback,
            "reason": self.reason,
            "model": self.model_path.name,
            "device": self.device,
            "threads": self.threads,
        }


@dataclass(frozen=True)
class ModelFiles:
    """The CPU build of a model and its Edge TPU twin; either may be absent."""

    cpu: Path | None = None
    edgetpu: Path | None = None
    named: Literal["cpu", "edgetpu"] = "cpu"  # which build the user asked for

    @classmethod
    def from_path(cls, path: Path) -> ModelFiles:
        """Pair a file with its twin by Coral's naming convention (``x.tflite`` / ``x_edgetpu.tflite``)."""
        path = Path(path)
        if path.name.endswith(EDGETPU_SUFFIX) or (path.is_file() and is_edgetpu_model(path)):
            cpu = path.with_name(path.name.removesuffix(EDGETPU_SUFFIX) + ".tflite")
            return cls(cpu=cpu if cpu.is_file() and cpu != path else None, edgetpu=path, named="edgetpu")
        twin = path.with_name(path.stem + EDGETPU_SUFFIX)
        return cls(cpu=path, edgetpu=twin if twin.is_file() else None)

    @property
    def any(self) -> Path:
        return self.cpu or self.edgetpu  # type: ignore[return-value]


def check_model_file(path: Path) -> None:
    """Fail early, with the file named, on what the interpreter would report obscurely."""
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    if not path.is_file():
        raise ModelError(f"model path is not a file: {path}")
    with path.open("rb") as f:
        head = f.read(8)
    if len(head) < 8:  # an interrupted copy or a full disk: the same words as a cut-off flatbuffer gets
        raise ModelError(f"{path} cannot be loaded; it is truncated or corrupt: {len(head)} bytes, too short for a TFLite model")
    if head[4:8] != b"TFL3":
        raise ModelError(f"{path} is not a TFLite model (no TFL3 flatbuffer identifier)")


def is_edgetpu_model(path: Path) -> bool:
    """True when the file was compiled by edgetpu_compiler (it carries the custom op).
    An empty file carries nothing (mmap refuses it); check_model_file names it as truncated."""
    if path.stat().st_size == 0:
        return False
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return m.find(_EDGETPU_OP) != -1


def coral_devices(usb: str | Path = "/sys/bus/usb/devices", dev: str | Path = "/dev") -> list[str]:
    """Every Coral the kernel sees right now: on USB (by vendor:product) and on PCIe/M.2 (apex device nodes)."""
    found = []
    for device in sorted(Path(usb).glob("*")):
        try:
            ids = ((device / "idVendor").read_text().strip(), (device / "idProduct").read_text().strip())
        except OSError:
            continue
        if ids in CORAL_USB_IDS:
            found.append(f"{CORAL_USB_IDS[ids]} at {device.name}")
    return found + [f"Coral PCIe {p}" for p in sorted(Path(dev).glob("apex_*"))]


def coral_attached() -> bool:
    return bool(coral_devices())


@functools.lru_cache(maxsize=None)
def _say_no_tpu() -> None:
    """Once per process, however many models start: nothing is wrong on a machine without a Coral."""
    log.info("%s: models run on the CPU (backend auto)", NO_TPU)


def load_edgetpu_delegate(request: BackendRequest):
    options = {"device": request.device} if request.device else {}
    try:
        # Probe the library first: a failed load_delegate leaves a half-built Delegate whose
        # destructor prints a traceback into the journal.
        ctypes.CDLL(request.delegate_library)
    except OSError as exc:
        raise BackendError(
            f"cannot load the Edge TPU delegate {request.delegate_library!r}: {exc}. Check: {_CORAL_HINT}"
        ) from exc
    try:
        return litert.load_delegate(request.delegate_library, options)
    except (ValueError, OSError, RuntimeError) as exc:
        raise BackendError(
            f"cannot load the Edge TPU delegate {request.delegate_library!r} "
            f"(device {request.device or 'any'}): {exc}. Check: {_CORAL_HINT}"
        ) from exc


def _make_interpreter(path: Path, threads: int | None = None, delegates=None):
    check_model_file(path)
    # No fd 2 redirect around an Edge TPU build: libedgetpu's messages (and an abort's) must reach the journal as
    # they happen; the cost is LiteRT's one INFO line on stderr when an Edge TPU model is the process's first.
    quiet = litert.native_info_to_debug() if delegates is None else contextlib.nullcontext()
    try:
        with quiet:
            interpreter = litert.Interpreter(
                model_path=str(path), num_threads=threads, experimental_delegates=delegates
            )
            interpreter.allocate_tensors()
    except ValueError as exc:
        raise ModelError(f"{path} cannot be loaded; it is truncated or corrupt: {exc}") from exc
    except RuntimeError as exc:
        if "edgetpu-custom-op" in str(exc):
            raise ModelError(f"{path} is compiled for the Edge TPU and cannot run on the CPU") from exc
        raise ModelError(f"{path} cannot be prepared by the interpreter: {exc}") from exc
    return interpreter


def _open_cpu(files: ModelFiles, request: BackendRequest, fallback: bool, reason: str):
    if files.cpu is None:
        path = files.edgetpu
        raise ModelError(
            f"{path} is compiled for the Edge TPU and needs one; there is no CPU twin "
            f"({path.name.removesuffix(EDGETPU_SUFFIX)}.tflite) beside it to run on the CPU"
            + (f" ({reason})" if reason else "")
        )
    check_model_file(files.cpu)
    if is_edgetpu_model(files.cpu):
        raise ModelError(
            f"{files.cpu} is compiled for the Edge TPU and cannot run on the CPU; "
            "use its CPU twin (the same name without _edgetpu)"
        )
    interpreter = _make_interpreter(files.cpu, threads=request.threads)
    info = BackendInfo(
        requested=request.kind,
        backend="cpu",
        model_path=files.cpu,
        fallback=fallback,
        reason=reason,
        threads=request.threads,
    )
    return interpreter, info


class NoEdgeTpu(BackendError):
    """No Coral on USB or PCIe right now: under ``auto`` the CPU is then the plan, not a fallback."""


def _open_edgetpu(files: ModelFiles, request: BackendRequest, tpu_attached):
    if files.edgetpu is None:
        raise BackendError(f"{files.cpu} has no Edge TPU twin ({files.cpu.stem}{EDGETPU_SUFFIX})")
    # Every way in (backend edgetpu, auto, the failover's retry) asks first: with no Coral there, loading
    # libedgetpu only fails more obscurely, or aborts the process.
    if not tpu_attached():
        raise NoEdgeTpu(f"{NO_TPU}. Check: {_CORAL_HINT}")
    check_model_file(files.edgetpu)
    delegate = load_edgetpu_delegate(request)
    interpreter = _make_interpreter(files.edgetpu, delegates=[delegate])
    info = BackendInfo(
        requested=request.kind, backend="edgetpu", model_path=files.edgetpu, device=request.device
    )
    return interpreter, info


def open_interpreter(files: ModelFiles, request: BackendRequest, tpu_attached=coral_attached):
    """Return ``(interpreter, BackendInfo)`` with tensors allocated, per the request.

    ``tpu_attached()`` says whether a Coral is there at all (a probe of sysfs and /dev by default)."""
    if request.kind == "cpu":
        if files.named == "edgetpu":
            twin = f"its CPU twin is {files.cpu}" if files.cpu else "there is no CPU twin beside it"
            raise ModelError(f"{files.edgetpu} is compiled for the Edge TPU and needs one to run; {twin}")
        return _open_cpu(files, request, False, "")
    if request.kind == "edgetpu":
        return _open_edgetpu(files, request, tpu_attached)
    if files.edgetpu is None:
        return _open_cpu(files, request, False, "the model has no Edge TPU twin")
    try:
        return _open_edgetpu(files, request, tpu_attached)
    except NoEdgeTpu:
        _say_no_tpu()
        return _open_cpu(files, request, False, NO_TPU)
    except (BackendError, ModelError) as exc:
        reason = f"Edge TPU unavailable: {exc}"
        log.warning("falling back to the CPU for %s: %s", files.any.name, reason)
        return _open_cpu(files, request, True, reason)
