"""Whether the models and labels a config names can be used, each problem against its key.

One attribution serves ``edgeapp config check``, ``edgeapp doctor`` and ``edgeapp run``: a fault of a model file is
the config's at ``<task>.model``, a fault of the labels at the key that named them (:func:`blamed_on`,
:func:`labels_key`). The check opens every model on the CPU, so a file that is there but is no TFLite model, or
whose labels do not match its outputs, is found before a start; ``run`` names the key as its own loading fails, so
it opens each model once, refused or not.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from edgeapp.config import AppConfig
from edgeapp.errors import ConfigError, ModelError
from edgeapp.registry import Registry, registry_from
from edgeapp.settings import Problems


@dataclass(frozen=True)
class ModelCheck:
    task: str  # pose | classify | detect, or "runtime" for the models folder
    name: str  # as the config writes it
    problem: ConfigError | None  # None: usable
    detail: str = ""  # when usable: the file it resolved to


def check_models(config: AppConfig) -> list[ModelCheck]:
    """One row per model the enabled tasks need (and one for a ``runtime.models_dir`` that is no folder)."""
    rows: list[ModelCheck] = []
    try:
        registry = models_registry(config)
    except ConfigError as exc:
        rows.append(ModelCheck("runtime", config.runtime.models_dir, exc))
        registry = None
    for task, name in _wanted(config):
        if registry is None and name in Registry().entries:
            continue  # a registry name cannot be found without the folder: said once, above
        rows.append(_check_task(config, task, name, registry or Registry()))
    return rows


def require_models(config: AppConfig) -> None:
    """Nothing, or ConfigError (ConfigErrors for several) naming each key whose model or labels cannot be used."""
    problems = Problems()
    problems.errors = [row.problem for row in check_models(config) if row.problem is not None]
    problems.raise_any()


def models_registry(config: AppConfig) -> Registry:
    """The registry of ``runtime.models_dir``: a ConfigError naming the key when it is set to no folder."""
    models_dir = config.runtime.models_dir
    if models_dir and not Path(models_dir).is_dir():
        raise ConfigError("runtime.models_dir",
                          f"{models_dir} is not a folder: create it and `edgeapp models pull`, or fix the path")
    return registry_from(models_dir or None)


@contextmanager
def blamed_on(key: str) -> Iterator[None]:
    """A model or labels file that cannot be used, inside, is the config's fault at ``key``: the ConfigError
    naming it (exit 78, and systemd does not restart into the same fault)."""
    try:
        yield
    except ModelError as exc:
        raise ConfigError(key, str(exc)) from None


def labels_key(config: AppConfig, task: str) -> str:
    """Where labels that do not fit the model are at fault: labels the config names are; the registry's own (or a
    contract beside the file) are the model's."""
    return f"{task}.labels" if getattr(getattr(config, task), "labels", "") else f"{task}.model"


def _wanted(config: AppConfig) -> list[tuple[str, str]]:
    tasks = config.tasks
    return [(task, getattr(config, task).model) for task, on in
            (("pose", tasks.pose), ("classify", tasks.classify), ("detect", tasks.detect)) if on]


def _check_task(config: AppConfig, task: str, name: str, registry: Registry) -> ModelCheck:
    from edgeapp.runtime.backend import BackendRequest
    from edgeapp.runtime.model import Model

    try:
        with blamed_on(f"{task}.model"):
            files = registry.resolve(name, task)  # a registry entry is checked against its sha256
            model = Model.open(files, BackendRequest(kind="cpu", threads=1))  # the bytes are a model the runtime loads
        with blamed_on(labels_key(config, task)):
            _open_stage(config, task, model, registry)
    except ConfigError as exc:
        return ModelCheck(task, name, exc)
    twin = " (+ Edge TPU twin)" if files.edgetpu and files.cpu else ""
    return ModelCheck(task, name, None, f"{files.any}{twin}")


def _open_stage(config: AppConfig, task: str, model, registry: Registry) -> None:
    """What the pipeline builds on the model: the pose reader, the classifier with its labels, the detector
    with its labels (each checks its labels against the model's outputs)."""
    if task == "pose":
        from edgeapp.pose import MoveNet

        MoveNet(model, smart_crop=False)
    elif task == "classify":
        from edgeapp.classify.stage import classifier_on

        classifier_on(model, config.classify, registry)
    else:
        from edgeapp.detect.detector import Detector, load_labels

        Detector(model, load_labels(config.detect, registry, config.detect.model), config.detect)
