"""Whether the models and labels a config names can be used, each problem against its key.

One function serves ``edgeapp config check``, ``edgeapp doctor`` and ``edgeapp run`` (which calls it only when
loading failed, to name the key: the hot start path opens each model once). It opens the models on the CPU:
a file that is there but is no TFLite model, or whose labels do not match its outputs, is found before a start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeapp.config import AppConfig
from edgeapp.errors import ConfigError, EdgeappError
from edgeapp.settings import Problems



@dataclass(frozen=True)
class ModelCheck:
    task: str  # pose | classify | detect, or "runtime" for the models folder
    name: str  # as the config writes it
    problem: ConfigError | None  # None: usable
    detail: str = ""  # when usable: the file it resolved to


def check_models(config: AppConfig) -> list[ModelCheck]:
    """One row per model the enabled tasks need (and one for a ``runtime.models_dir`` that is no folder)."""
    from edgeapp.registry import Registry, registry_from

    rows: list[ModelCheck] = []
    models_dir = config.runtime.models_dir
    dir_missing = bool(models_dir) and not Path(models_dir).is_dir()
    if dir_missing:
        rows.append(ModelCheck("runtime", models_dir, ConfigError(
            "runtime.models_dir", f"{models_dir} is not a folder: create it and `edgeapp models pull`, or fix the path")))
    registry = Registry() if dir_missing else registry_from(models_dir or None)
    for task, name in _wanted(config):
        if dir_missing and name in registry.entries:
            continue  # a registry name cannot be found without the folder: said once, above
        rows.append(_check_task(config, task, name, registry))
    return rows


def require_models(config: AppConfig) -> None:
    """Nothing, or ConfigError (ConfigErrors for several) naming each key whose model or labels cannot be used."""
    problems = Problems()
    problems.errors = [row.problem for row in check_models(config) if row.problem is not None]
    problems.raise_any()


def _wanted(config: AppConfig) -> list[tuple[str, str]]:
    tasks = config.tasks
    return [(task, getattr(config, task).model) for task, on in
            (("pose", tasks.pose), ("classify", tasks.classify), ("detect", tasks.detect)) if on]


def _check_task(config: AppConfig, task: str, name: str, registry) -> ModelCheck:
    from edgeapp.runtime.backend import BackendRequest
    from edgeapp.runtime.model import Model

    try:
        files = registry.resolve(name, task)  # a registry entry is checked against its sha256
        model = Model.open(files, BackendRequest(kind="cpu", threads=1))  # the bytes are a model the runtime loads
    except EdgeappError as exc:
        return ModelCheck(task, name, ConfigError(f"{task}.model", _message(exc)))
    # labels the config names are at fault; the registry's own (or a contract beside the file) are the model's
    labels_key = f"{task}.labels" if getattr(getattr(config, task), "labels", "") else f"{task}.model"
    try:
        _open_stage(config, task, model, registry)
    except EdgeappError as exc:
        return ModelCheck(task, name, ConfigError(labels_key, _message(exc)))
    twin = " (+ Edge TPU twin)" if files.edgetpu and files.cpu else ""
    return ModelCheck(task, name, None, f"{files.any}{twin}")


def _open_stage(config: AppConfig, task: str, model, registry) -> None:
    """What the pipeline builds on the model: the pose reader, the classifier with its labels, the detector
    with its labels (each checks its labels against the model's outputs)."""
    if task == "pose":
        from edgeapp.pose import MoveNet

        MoveNet(model, smart_crop=False)
    elif task == "classify":
        from edgeapp.classify.stage import open_classifier

        open_classifier(config.classify, registry)
    else:
        from edgeapp.detect.detector import Detector, load_labels

        Detector(model, load_labels(config.detect, registry, config.detect.model), config.detect)


def _message(exc: EdgeappError) -> str:
    return exc.message if isinstance(exc, ConfigError) else str(exc)
