"""The model registry: manifest, import, verify, pull from a real HTTP server on loopback."""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import threading
import zipfile

import pytest

from support.shared import IMAGES, MODELS, MOVENET
from edgeapp.errors import ModelError
from edgeapp.registry import Registry, default_manifest, load_manifest

TASKS = {"pose", "classify", "detect"}


def test_manifest_lists_the_required_models():
    entries = load_manifest(default_manifest())
    for name in ["movenet-lightning-int8", "movenet-thunder-int8", "movenet-lightning-fp16", "movenet-thunder-fp16",
                 "movenet-lightning-int8-edgetpu", "movenet-thunder-int8-edgetpu", "yoga-classifier",
                 "ssd-mobilenet-v1-coco", "ssd-mobilenet-v2-coco", "efficientdet-lite0",
                 "ssd-mobilenet-v1-coco-edgetpu", "efficientdet-lite0-edgetpu"]:
        assert name in entries
    for e in entries.values():
        assert (e.url.startswith("https://") or e.shipped) and e.license and e.file  # shipped: in the repository
        if e.kind == "model":
            assert e.task in TASKS
        if e.edgetpu:
            assert entries[e.edgetpu].cpu == e.name
        assert e.sha256 == "" or len(e.sha256) == 64


def test_manifest_checksums_match_the_shared_files():
    reg = Registry(MODELS)
    checked = [v for v in reg.verify() if v.status != "missing"]
    assert len(checked) >= 6
    assert all(v.ok for v in checked), [(v.artifact.name, v.status) for v in checked if not v.ok]


def test_import_then_resolve_by_name(models_dir):
    reg = Registry(models_dir)
    results = dict(reg.import_dir(MODELS))
    assert results["movenet-lightning-int8"] == "imported"
    assert results["movenet-thunder-int8"] == "not found"
    files = reg.resolve("movenet-lightning-int8", "pose")
    assert files.cpu == models_dir / "movenet/movenet_single_pose_lightning_ptq.tflite"
    assert files.edgetpu is not None and files.named == "cpu"
    assert reg.resolve("movenet-lightning-int8-edgetpu", "pose").named == "edgetpu"
    assert reg.labels_for("yoga-classifier").read_text().split() == ["chair", "cobra", "dog", "tree", "warrior"]


def test_resolve_errors_name_the_problem(models_dir):
    reg = Registry(models_dir)
    with pytest.raises(ModelError, match="edgeapp models pull movenet-thunder-int8"):
        reg.resolve("movenet-thunder-int8", "pose")
    with pytest.raises(ModelError, match="unknown model 'movenet-huge'"):
        reg.resolve("movenet-huge", "pose")
    with pytest.raises(ModelError, match="is a detect model, not a pose model"):
        reg.resolve("ssd-mobilenet-v1-coco", "pose")
    with pytest.raises(ModelError, match="not found"):
        reg.resolve(str(models_dir / "x.tflite"), "pose")


def test_import_rejects_a_corrupt_file_and_leaves_nothing(models_dir, tmp_path):
    bad = tmp_path / "src" / "movenet"
    bad.mkdir(parents=True)
    (bad / MOVENET.name).write_bytes(MOVENET.read_bytes()[:-1] + b"x")
    reg = Registry(models_dir)
    result = dict(reg.import_dir(tmp_path / "src", ["movenet-lightning-int8"]))
    assert result["movenet-lightning-int8"].startswith("rejected: movenet-lightning-int8: checksum mismatch")
    assert list(models_dir.rglob("*")) == [models_dir / "movenet"]  # no partial or temp file left


def test_a_shipped_model_is_never_imported_or_pulled_over(models_dir, tmp_path):
    """A folder with a model of one's own named like the shipped one (``classifier train`` writes
    classifier.tflite) imports the rest and leaves the shipped model as it ships."""
    reg = Registry(models_dir)
    shipped = [n for n in reg.entries if reg.entries[n].shipped]
    assert shipped, "the manifest has a shipped model"
    src = tmp_path / "src"
    shutil.copytree(MODELS / "movenet", src / "movenet")
    for name in shipped:
        (src / "run1").mkdir(exist_ok=True)
        (src / "run1" / reg.entries[name].file.split("/")[-1]).write_bytes(b"my own model")
    before = {n: reg.path(n).read_bytes() for n in shipped}
    results = dict(reg.import_dir(src))
    assert results["movenet-lightning-int8"] == "imported"
    assert not set(shipped) & set(results), results  # not even looked for
    assert dict(reg.import_dir(src, shipped)) == {n: "ships with edgeapp (not imported)" for n in shipped}
    assert {n: reg.path(n).read_bytes() for n in shipped} == before
    with pytest.raises(ModelError, match="ships with edgeapp"):
        reg.pull(shipped[0])


def test_verify_reports_a_tampered_file(models_dir):
    reg = Registry(models_dir)
    reg.import_dir(MODELS, ["yoga-classifier"])
    path = reg.path("yoga-classifier")
    path.write_bytes(path.read_bytes() + b"\0")
    (v,) = reg.verify(["yoga-classifier"])
    assert v.status == "mismatch"


def test_a_model_changed_after_install_is_refused_at_load_with_a_clear_error(models_dir):
    """What `infer` and the service load goes through resolve(): a changed byte is caught there, not only by
    `doctor` or `models verify`."""
    reg = Registry(models_dir)
    reg.import_dir(MODELS, ["movenet-lightning-int8"])
    path = reg.path("movenet-lightning-int8")
    assert reg.resolve("movenet-lightning-int8", "pose").cpu == path  # intact: loads
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # still a loadable flatbuffer header: only the checksum can tell
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"movenet-lightning-int8: .* has sha256 [0-9a-f]{64}, the manifest says "
                                         r"[0-9a-f]{64}.*edgeapp models pull movenet-lightning-int8"):
        reg.resolve("movenet-lightning-int8", "pose")


def test_labels_changed_after_install_are_refused_where_they_are_loaded(models_dir):
    """The service and infer read labels through labels_for(): changed labels would rename every answer, so they
    are checked there, as resolve() checks models, not only by `doctor`."""
    reg = Registry(models_dir)
    reg.import_dir(MODELS, ["yoga-classifier", "yoga-labels"])
    labels = reg.labels_for("yoga-classifier")
    assert labels is not None and labels.is_file()  # intact: read
    labels.write_text("tampered\n")
    with pytest.raises(ModelError, match=r"has sha256 [0-9a-f]{64}, the manifest says"):
        reg.labels_for("yoga-classifier")


def test_infer_with_a_changed_model_fails_with_the_message(models_dir):
    reg = Registry(models_dir)
    reg.import_dir(MODELS, ["movenet-lightning-int8"])
    path = reg.path("movenet-lightning-int8")
    path.write_bytes(path.read_bytes()[:-1] + b"\0")
    r = subprocess.run([sys.executable, "-m", "edgeapp", "infer", "pose", str(IMAGES / "squat.bmp"), "--models-dir",
                        str(models_dir)], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and r.stdout == ""
    assert "sha256" in r.stderr and "Traceback" not in r.stderr


def test_import_of_a_folder_without_models_fails(models_dir, tmp_path):
    empty = tmp_path / "nothing-here"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "notes.txt").write_text("no models\n")
    with pytest.raises(ModelError, match="no known model files in"):
        Registry(models_dir).import_dir(empty)
    r = subprocess.run([sys.executable, "-m", "edgeapp", "models", "import", str(empty), "--models-dir",
                        str(models_dir)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "no known model files" in r.stderr


@pytest.fixture
def http_mirror(tmp_path):
    """A real HTTP server on 127.0.0.1 serving a copy of the shared models folder."""
    root = tmp_path / "mirror"
    shutil.copytree(MODELS, root)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_pull_downloads_verifies_and_reports_progress(models_dir, http_mirror):
    _, url = http_mirror
    reg = Registry(models_dir)
    seen = []
    path = reg.pull("movenet-lightning-int8", mirror=url, progress=lambda n, total: seen.append((n, total)))
    assert path.read_bytes() == MOVENET.read_bytes()
    assert sum(n for n, _ in seen) == MOVENET.stat().st_size and seen[0][1] == MOVENET.stat().st_size


def test_pull_with_bad_checksum_leaves_nothing(models_dir, http_mirror):
    root, url = http_mirror
    target = root / "movenet" / MOVENET.name
    target.chmod(0o644)
    target.write_bytes(b"TFL3" * 1000)
    reg = Registry(models_dir)
    with pytest.raises(ModelError, match="checksum mismatch"):
        reg.pull("movenet-lightning-int8", mirror=url)
    assert [p for p in models_dir.rglob("*") if p.is_file()] == []


def test_pull_records_an_unknown_checksum_on_first_download(models_dir, http_mirror):
    root, url = http_mirror
    # stand in for a model whose sha256 the manifest cannot know offline
    (root / "movenet" / "movenet_single_pose_thunder_ptq.tflite").write_bytes(MOVENET.read_bytes())
    reg = Registry(models_dir)
    reg.pull("movenet-thunder-int8", mirror=url)
    assert reg.expected_sha("movenet-thunder-int8") == reg.verify(["movenet-thunder-int8"])[0].actual
    assert reg.verify(["movenet-thunder-int8"])[0].ok
    # a later, different download is now held to the recorded checksum
    (root / "movenet" / "movenet_single_pose_thunder_ptq.tflite").write_bytes(b"TFL3" * 10)
    with pytest.raises(ModelError, match="checksum mismatch"):
        reg.pull("movenet-thunder-int8", mirror=url)


def test_pull_extracts_an_archive_member(models_dir, http_mirror, tmp_path):
    root, url = http_mirror
    with zipfile.ZipFile(root / "bundle.zip", "w") as z:
        z.write(MODELS / "detection" / "ssd_mobilenet_v1_coco_quant_detect.tflite", "detect.tflite")
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(default_manifest().read_text().replace(
        "https://storage.googleapis.com/download.tensorflow.org/models/tflite/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.zip",
        f"{url}/bundle.zip"))
    reg = Registry(models_dir, manifest)
    path = reg.pull("ssd-mobilenet-v1-coco")
    assert reg.verify(["ssd-mobilenet-v1-coco"])[0].ok and path.stat().st_size == 4183312


def test_pull_from_an_unreachable_server_fails_cleanly(models_dir):
    reg = Registry(models_dir)
    with pytest.raises(ModelError, match="download of http://127.0.0.1:9/"):
        reg.pull("yoga-classifier", mirror="http://127.0.0.1:9", timeout=5)
    assert [p for p in models_dir.rglob("*") if p.is_file()] == []


def test_a_manifest_with_a_bom_reads_and_a_latin1_one_is_a_model_error_naming_it(tmp_path):
    text = default_manifest().read_text(encoding="utf-8")
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_manifest(bom) == load_manifest(default_manifest())
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b"# K\xfcche\n" + text.encode())
    with pytest.raises(ModelError, match=r"^model manifest \S*latin1.toml is not UTF-8 text"):
        load_manifest(latin1)
