"""A model that keeps working when the Edge TPU errors or vanishes at run time.

On an Edge TPU invoke error it reopens the CPU twin, repeats the invoke with the
same input, and reports ``backend=cpu, fallback=true``. Every ``retry_s`` it tries
the Edge TPU again and switches back when it answers. Consumers (MoveNet, the
detector, the classifier) hold this object like a plain :class:`Model`.

A libedgetpu abort kills the process instead of raising; systemd's Restart= and the
watchdog cover that, and on restart ``auto`` falls back if the TPU is still gone.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Callable

from edgeapp.errors import BackendError, ModelError
from edgeapp.runtime.backend import BackendRequest, ModelFiles, open_interpreter
from edgeapp.runtime.model import Model

log = logging.getLogger(__name__)


class FailoverModel:
    def __init__(
        self,
        files: ModelFiles,
        request: BackendRequest,
        retry_s: float = 60.0,
        opener: Callable = open_interpreter,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.files = files
        self.request = request
        self.retry_s = retry_s
        self.switches = 0
        self._opener = opener
        self._clock = clock
        self._model = Model(*opener(files, request))
        # on the CPU under auto (a fallback, or no Coral yet): look for the Edge TPU again now and then
        self._retry_at = self._next_retry() if self._model.info.backend == "cpu" else None

    def __getattr__(self, name: str):
        # Everything but invoke is the current model's: tensors, info, outputs.
        return getattr(self._model, name)

    def _next_retry(self) -> float | None:
        can_have_tpu = self.files.edgetpu is not None and self.request.kind != "cpu"
        return self._clock() + self.retry_s if can_have_tpu else None

    def _swap(self, new: Model) -> None:
        old = self._model
        for spec_old, spec_new in zip(old.inputs, new.inputs):
            new.interpreter.set_tensor(spec_new.index, old.interpreter.get_tensor(spec_old.index))
        self._model = new
        self.switches += 1

    def _fall_back(self, exc: Exception) -> None:
        reason = f"Edge TPU failed during inference: {exc}"
        log.error("%s: %s; switching to the CPU", self.files.any.name, reason)
        cpu = dataclasses.replace(self.request, kind="cpu")
        interpreter, info = self._opener(dataclasses.replace(self.files, named="cpu"), cpu)
        self._swap(Model(interpreter, dataclasses.replace(info, requested=self.request.kind, fallback=True, reason=reason)))
        self._retry_at = self._next_retry()

    def _try_edgetpu(self) -> None:
        self._retry_at = self._next_retry()
        try:
            interpreter, info = self._opener(self.files, dataclasses.replace(self.request, kind="edgetpu"))
        except (BackendError, ModelError) as exc:
            log.debug("Edge TPU still unavailable for %s: %s", self.files.any.name, exc)
            return
        self._swap(Model(interpreter, dataclasses.replace(info, requested=self.request.kind)))
        self._retry_at = None
        log.warning("%s is back on the Edge TPU", self.files.any.name)

    def invoke(self) -> float:
        if self._retry_at is not None and self._clock() >= self._retry_at:
            self._try_edgetpu()
        try:
            return self._model.invoke()
        except (RuntimeError, ValueError) as exc:
            if self._model.info.backend != "edgetpu":
                raise
            self._fall_back(exc)
            return self._model.invoke()
