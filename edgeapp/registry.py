"""The model registry: which models exist, where their files live, and whether the bytes are right.

The manifest (``models/manifest.toml``, shipped inside the wheel) names each model
and labels file with its path under the models directory, sha256, publisher URL
and licence. Files arrive by ``pull`` (download) or ``import`` (copy from a local
folder, for offline sites); either way they are verified before they are renamed
into place, so a bad download never leaves a file behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable

from edgeapp.credentials import read_toml_file
from edgeapp.errors import ConfigError, ModelError
from edgeapp.runtime.backend import ModelFiles

log = logging.getLogger(__name__)

RECORDED_SHA_FILE = "recorded-sha256.json"
DEFAULT_MODELS = {"pose": "movenet-lightning-int8", "classify": "yoga-lightning", "detect": "ssd-mobilenet-v1-coco"}
_REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Artifact:
    """A model or a labels file named in the manifest."""

    name: str
    kind: str  # "model" or "labels"
    file: str
    url: str
    sha256: str = ""
    license: str = ""
    publisher: str = ""
    archive_member: str = ""
    task: str = ""
    input_size: int = 0
    precision: str = ""
    edgetpu: str = ""
    cpu: str = ""
    labels: str = ""
    shipped: bool = False  # the file ships beside the manifest (models/ in the repository), never downloaded


@dataclass(frozen=True)
class Verdict:
    artifact: Artifact
    status: str  # ok | missing | mismatch | unrecorded
    actual: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def default_manifest() -> Path:
    packaged = resources.files("edgeapp") / "manifest.toml"
    if packaged.is_file():
        return Path(str(packaged))
    return _REPO_ROOT / "models" / "manifest.toml"


def default_models_dir() -> Path:
    """``$EDGEAPP_MODELS_DIR``, else the checkout's ``models/`` when run from one, else the service's state."""
    env = os.environ.get("EDGEAPP_MODELS_DIR")
    if env:
        return Path(env)
    if (_REPO_ROOT / "models" / "manifest.toml").is_file():
        return _REPO_ROOT / "models"
    return Path("/var/lib/edgeapp/models")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_FIELDS = {f for f in Artifact.__dataclass_fields__} - {"name", "kind"}


def load_manifest(path: Path) -> dict[str, Artifact]:
    try:
        data = read_toml_file(path, "model manifest")
    except ConfigError as exc:  # the manifest is the models' own file, not the user's config: a model error
        raise ModelError(exc.message) from None  # it names the manifest and its path
    entries: dict[str, Artifact] = {}
    for kind, table in (("model", data.get("models", {})), ("labels", data.get("labels", {}))):
        for name, spec in table.items():
            unknown = set(spec) - _FIELDS
            if unknown:
                raise ModelError(f"manifest {path}: {name} has unknown keys {sorted(unknown)}")
            entries[name] = Artifact(name=name, kind=kind, **spec)
    return entries


@dataclass
class Registry:
    models_dir: Path = field(default_factory=default_models_dir)
    manifest: Path = field(default_factory=default_manifest)

    def __post_init__(self) -> None:
        self.models_dir = Path(self.models_dir)
        self.entries = load_manifest(Path(self.manifest))

    # -- lookup -----------------------------------------------------------------
    def get(self, name: str) -> Artifact:
        try:
            return self.entries[name]
        except KeyError:
            raise ModelError(f"unknown model {name!r}; known: {', '.join(sorted(self.entries))}") from None

    def path(self, name: str) -> Path:
        entry = self.get(name)
        # A shipped model is read where it ships, with its contract sidecar beside it.
        return (Path(self.manifest).parent if entry.shipped else self.models_dir) / entry.file

    def resolve(self, name_or_file: str | Path | None, task: str) -> ModelFiles:
        """A registry name, or a path to a ``.tflite`` file, to the CPU and Edge TPU files to open."""
        if name_or_file is None or name_or_file == "":
            name_or_file = DEFAULT_MODELS[task]
        text = str(name_or_file)
        if text.endswith(".tflite") or os.sep in text or Path(text).exists():
            path = Path(text)
            if not path.exists():
                raise ModelError(f"model file not found: {path}")
            return ModelFiles.from_path(path)
        entry = self.get(text)
        if entry.kind != "model":
            raise ModelError(f"{text} is a labels file, not a model")
        if entry.task and entry.task != task:
            raise ModelError(f"{text} is a {entry.task} model, not a {task} model")
        cpu_name = entry.cpu or (entry.name if not entry.name.endswith("-edgetpu") else "")
        tpu_name = entry.edgetpu or (entry.name if entry.cpu else "")
        cpu = self._present(cpu_name)
        tpu = self._present(tpu_name)
        if cpu is None and tpu is None:
            raise ModelError(
                f"model {text} is not in {self.models_dir}: run `edgeapp models pull {text}` "
                f"or `edgeapp models import DIR`"
            )
        for name, path in ((cpu_name, cpu), (tpu_name, tpu)):
            if path is not None:
                self.check(name)
        return ModelFiles(cpu=cpu, edgetpu=tpu, named="edgetpu" if entry.cpu else "cpu")

    def labels_for(self, model_name: str) -> Path | None:
        """The model's labels file, checked against its sha256 when it is there (as :meth:`resolve` checks models:
        labels changed on disk would rename every answer silently)."""
        entry = self.entries.get(model_name)
        if entry is None or not entry.labels:
            return None
        path = self.path(entry.labels)
        if path.is_file():
            self.check(entry.labels)
        return path

    def _present(self, name: str) -> Path | None:
        if not name:
            return None
        path = self.path(name)
        return path if path.is_file() else None

    # -- checksums --------------------------------------------------------------
    def check(self, name: str) -> None:
        """The file about to be loaded is the one the manifest (or the first download) names: a model changed on
        disk would otherwise run silently. One sha256 per model at load time (a few ms; README, Models)."""
        verdict = self._verdict(name)
        if verdict.status == "mismatch":
            raise ModelError(
                f"{verdict.artifact.kind} {name}: {self.path(name)} has sha256 {verdict.actual}, the manifest says "
                f"{self.expected_sha(name)}; the file was changed or damaged after it was installed: "
                f"run `edgeapp models pull {name}` or import it again"
            )

    def _recorded(self) -> dict[str, str]:
        path = self.models_dir / RECORDED_SHA_FILE
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read {path}: {exc}") from exc

    def expected_sha(self, name: str) -> str:
        entry = self.get(name)
        return entry.sha256 or self._recorded().get(name, "")

    def _record(self, name: str, digest: str) -> None:
        recorded = self._recorded()
        recorded[name] = digest
        _atomic_write(self.models_dir / RECORDED_SHA_FILE, json.dumps(recorded, indent=2, sort_keys=True).encode())

    def verify(self, names: Iterable[str] | None = None) -> list[Verdict]:
        return [self._verdict(name) for name in names or sorted(self.entries)]

    def _verdict(self, name: str) -> Verdict:
        entry = self.get(name)
        path = self.path(name)
        if not path.is_file():
            return Verdict(entry, "missing")
        actual = sha256_of(path)
        expected = self.expected_sha(name)
        return Verdict(entry, "unrecorded" if not expected else ("ok" if actual == expected else "mismatch"), actual)

    # -- getting files ----------------------------------------------------------
    def downloadable(self) -> list[str]:
        """The names ``models pull`` and ``models import`` get: every entry but those that ship with edgeapp."""
        return [n for n in sorted(self.entries) if not self.entries[n].shipped]

    def _installable(self, name: str) -> Artifact:
        entry = self.get(name)
        if entry.shipped:  # read where it ships: installing over it would change the package itself
            raise ModelError(f"{name} ships with edgeapp ({self.path(name)}); it is never downloaded or imported")
        return entry

    def install(self, name: str, source: Path) -> Path:
        """Verify ``source`` against the manifest and move a copy into place atomically."""
        entry = self._installable(name)
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        os.close(fd)
        tmp_path = Path(tmp)
        try:
            shutil.copyfile(source, tmp_path)
            self._check_and_place(entry, tmp_path, target)
        finally:
            tmp_path.unlink(missing_ok=True)
        return target

    def _check_and_place(self, entry: Artifact, tmp: Path, target: Path) -> None:
        actual = sha256_of(tmp)
        expected = self.expected_sha(entry.name)
        if expected and actual != expected:
            raise ModelError(f"{entry.name}: checksum mismatch (expected {expected}, got {actual}); nothing was installed")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        if not expected:
            log.warning("%s: no checksum known; recorded %s from this first copy", entry.name, actual)
            self._record(entry.name, actual)

    def import_dir(self, folder: Path, names: Iterable[str] | None = None) -> list[tuple[str, str]]:
        """Copy known files found in ``folder`` (by manifest path, else by file name anywhere below)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise ModelError(f"import: {folder} is not a folder")
        by_name: dict[str, Path] = {}
        for p in folder.rglob("*"):
            if p.is_file():
                by_name.setdefault(p.name, p)
        results = []
        names = list(names or self.downloadable())
        for name in names:
            entry = self.get(name)
            if entry.shipped:
                results.append((name, "ships with edgeapp (not imported)"))
                continue
            source = folder / entry.file
            if not source.is_file():
                source = by_name.get(Path(entry.file).name)
            if source is None:
                results.append((name, "not found"))
                continue
            try:
                self.install(name, source)
                results.append((name, "imported"))
            except ModelError as exc:
                results.append((name, f"rejected: {exc}"))
        if all(status == "not found" for _, status in results):
            known = ", ".join(sorted({Path(self.get(n).file).name for n in names}))
            raise ModelError(f"import: no known model files in {folder} (looked for {known})")
        return results

    def pull(
        self,
        name: str,
        mirror: str | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        timeout: float = 60.0,
    ) -> Path:
        """Download, verify, and rename into place; a failure leaves nothing behind."""
        entry = self._installable(name)
        url = f"{mirror.rstrip('/')}/{entry.file}" if mirror else entry.url
        member = "" if mirror else entry.archive_member
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        os.close(fd)
        tmp_path = Path(tmp)
        try:
            _download(url, tmp_path, progress, timeout)
            if member:
                _extract_member(tmp_path, member)
            self._check_and_place(entry, tmp_path, target)
        finally:
            tmp_path.unlink(missing_ok=True)
        return target


def _download(url: str, dest: Path, progress, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, dest.open("wb") as out:
            total = response.headers.get("Content-Length")
            total_bytes = int(total) if total and total.isdigit() else None
            while block := response.read(1 << 16):
                out.write(block)
                if progress:
                    progress(len(block), total_bytes)
    except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
        raise ModelError(f"download of {url} failed: {exc}") from exc


def _extract_member(archive: Path, member: str) -> None:
    try:
        with zipfile.ZipFile(archive) as z:
            data = z.read(member)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ModelError(f"{archive.name}: cannot extract {member}: {exc}") from exc
    archive.write_bytes(data)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def registry_from(models_dir: str | Path | None) -> Registry:
    if models_dir is not None and str(models_dir) == "":
        raise ConfigError("models.dir", "must not be empty")
    return Registry(Path(models_dir)) if models_dir else Registry()
