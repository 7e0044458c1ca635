"""The runtime: backend selection, fallback, and the clear errors for bad model files."""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
import sys

import numpy as np
import pytest

from support.shared import CLASSIFIER_LABELS, IMAGES, MOVENET, MOVENET_EDGETPU, SSD
from edgeapp.camera.files import read_image
from edgeapp.errors import BackendError, ConfigError, ModelError
from edgeapp.pose.movenet import MoveNet
from edgeapp.runtime.backend import BackendRequest, ModelFiles, coral_devices, is_edgetpu_model, open_interpreter
from edgeapp.runtime.failover import FailoverModel
from edgeapp.runtime.model import Model, write_image
from edgeapp.window import InputWindow, sample


def test_auto_with_a_coral_that_cannot_be_used_falls_back_and_says_why(caplog):
    """A Coral is there (as the probe says) but its delegate does not load (none does here): a real fallback."""
    with caplog.at_level(logging.INFO):
        interpreter, info = open_interpreter(ModelFiles.from_path(MOVENET), BackendRequest("auto", threads=2),
                                             tpu_attached=lambda: True)
    assert info.backend == "cpu" and info.fallback is True
    assert "libedgetpu" in info.reason and info.model_path == MOVENET
    assert info.as_dict()["fallback"] is True
    assert [r.levelname for r in caplog.records if "falling back" in r.getMessage()] == ["WARNING"]


def test_auto_on_a_machine_without_a_coral_is_no_fallback_and_says_so_once_at_info():
    """No Coral here (none is on this machine kind): three models, one INFO line, no WARNING, fallback false;
    LiteRT's own INFO line is not shown without -vv."""
    code = ("import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stderr)\n"
            "from edgeapp.runtime.backend import BackendRequest, coral_attached\n"
            "from edgeapp.runtime.model import Model\n"
            "assert not coral_attached()\n"
            f"infos = [Model.open({str(MOVENET)!r}, BackendRequest('auto', threads=1)).info for _ in range(3)]\n"
            "print([(i.backend, i.fallback) for i in infos])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[('cpu', False), ('cpu', False), ('cpu', False)]"
    assert r.stderr.count("no Edge TPU attached") == 1 and r.stderr.startswith("INFO:edgeapp.runtime.backend")
    assert "WARNING" not in r.stderr and "XNNPACK" not in r.stderr, r.stderr


def test_litert_info_line_goes_to_debug_and_other_native_output_is_kept():
    code = ("import logging, sys; logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n"
            "from edgeapp.runtime.backend import BackendRequest\n"
            "from edgeapp.runtime.model import Model\n"
            f"Model.open({str(MOVENET)!r}, BackendRequest('cpu', threads=1))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "DEBUG:edgeapp.runtime.litert:litert: INFO: Created TensorFlow Lite XNNPACK delegate" in r.stderr
    assert not any(line.startswith("INFO: ") for line in r.stderr.splitlines()), r.stderr
    script = ("import os; from edgeapp.runtime.litert import native_info_to_debug\n"
              "with native_info_to_debug():\n"
              "    os.write(2, b'INFO: hidden\\nERROR: kept\\n')\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert r.stderr == "ERROR: kept\n"


def test_fd_2_is_left_alone_once_litert_has_said_its_line():
    """LiteRT says its XNNPACK line once per process: after the first CPU build, building more interpreters must not
    redirect fd 2 (process-wide, it would hold back other threads' output)."""
    code = ("import os, sys\n"
            "from edgeapp.runtime.backend import BackendRequest\n"
            "from edgeapp.runtime.litert import native_info_to_debug\n"
            "from edgeapp.runtime.model import Model\n"
            f"Model.open({str(MOVENET)!r}, BackendRequest('cpu', threads=1))\n"
            "with native_info_to_debug():\n"
            "    os.write(2, b'INFO: straight through\\n')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "INFO: straight through\n"


def test_auto_without_twin_is_not_a_fallback(tmp_path):
    lone = tmp_path / "movenet.tflite"
    shutil.copyfile(MOVENET, lone)
    model = Model.open(lone, BackendRequest("auto"))
    assert (model.info.backend, model.info.fallback) == ("cpu", False)
    assert "no Edge TPU twin" in model.info.reason


def test_auto_given_the_edgetpu_file_runs_its_cpu_twin():
    model = Model.open(MOVENET_EDGETPU, BackendRequest("auto"))
    assert model.path == MOVENET and model.info.backend == "cpu"


def test_cpu_backend_runs_four_threads_by_default():
    model = Model.open(MOVENET, BackendRequest("cpu"))
    assert model.info.threads == 4 and model.info.fallback is False


def test_edgetpu_backend_without_a_coral_says_so_before_touching_the_delegate():
    with pytest.raises(BackendError, match=r"no Edge TPU attached.*plugdev"):
        Model.open(MOVENET, BackendRequest("edgetpu"))  # no Coral on this machine kind


def test_edgetpu_backend_without_delegate_is_a_clear_error():
    with pytest.raises(BackendError, match=r"libedgetpu\.so\.1.*plugdev"):
        open_interpreter(ModelFiles.from_path(MOVENET), BackendRequest("edgetpu"), tpu_attached=lambda: True)


def test_custom_delegate_path_is_used_and_named(tmp_path):
    missing = tmp_path / "libedgetpu-custom.so"
    with pytest.raises(BackendError, match="libedgetpu-custom.so"):
        open_interpreter(ModelFiles.from_path(MOVENET), BackendRequest("edgetpu", delegate_library=str(missing)),
                         tpu_attached=lambda: True)


def test_failover_retries_the_edge_tpu_only_through_the_coral_probe(tmp_path, caplog):
    """The retry of the Edge TPU asks the same probe as the first open: a sysfs tree in tmp_path, with no Coral
    and then with one plugged in (whose delegate, as everywhere here, does not load)."""
    usb, dev = tmp_path / "usb", tmp_path / "dev"
    usb.mkdir(), dev.mkdir()
    now = [0.0]
    opener = functools.partial(open_interpreter, tpu_attached=lambda: bool(coral_devices(usb, dev)))
    model = FailoverModel(ModelFiles.from_path(MOVENET), BackendRequest("auto", threads=1), retry_s=30,
                          opener=opener, clock=lambda: now[0])
    assert (model.info.backend, model.info.fallback) == ("cpu", False)

    def retry() -> str:
        caplog.clear()
        now[0] += 31
        with caplog.at_level(logging.DEBUG, logger="edgeapp.runtime.failover"):
            model.invoke()
        [said] = [r.getMessage() for r in caplog.records if "still unavailable" in r.getMessage()]
        return said

    assert "no Edge TPU attached" in retry()
    coral = usb / "1-1"
    coral.mkdir()
    (coral / "idVendor").write_text("18d1\n")
    (coral / "idProduct").write_text("9302\n")
    assert "cannot load the Edge TPU delegate" in retry()
    assert model.info.backend == "cpu" and model.switches == 0


def test_edgetpu_model_on_cpu_names_its_twin():
    with pytest.raises(ModelError, match=r"compiled for the Edge TPU.*CPU twin is .*lightning_ptq\.tflite"):
        Model.open(MOVENET_EDGETPU, BackendRequest("cpu"))


def test_edgetpu_model_without_twin_on_cpu(tmp_path):
    lone = tmp_path / "pose_edgetpu.tflite"
    shutil.copyfile(MOVENET_EDGETPU, lone)
    with pytest.raises(ModelError, match="no CPU twin"):
        Model.open(lone, BackendRequest("cpu"))
    with pytest.raises(ModelError, match="no CPU twin"):
        Model.open(lone, BackendRequest("auto"))


def test_misnamed_edgetpu_model_is_detected_by_content(tmp_path):
    disguised = tmp_path / "plain.tflite"
    shutil.copyfile(MOVENET_EDGETPU, disguised)
    assert is_edgetpu_model(disguised)
    assert ModelFiles.from_path(disguised).named == "edgetpu"
    with pytest.raises(ModelError, match="Edge TPU"):
        Model.open(disguised, BackendRequest("cpu"))


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="not found.*nope.tflite"):
        Model.open(tmp_path / "nope.tflite", BackendRequest("cpu"))


def test_not_a_tflite_file():
    with pytest.raises(ModelError, match=r"labels\.txt is not a TFLite model"):
        Model.open(CLASSIFIER_LABELS, BackendRequest("cpu"))


@pytest.mark.parametrize("keep", [0, 4, 8, 100_000, 2_000_000])
@pytest.mark.parametrize("backend", ["cpu", "auto"])
def test_truncated_file(tmp_path, keep, backend):
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(MOVENET.read_bytes()[:keep])
    with pytest.raises(ModelError, match=r"cut\.tflite" + (r" cannot be loaded; it is truncated" if keep < 8 else "")):
        Model.open(cut, BackendRequest(backend))


def test_an_empty_model_file_is_named_as_truncated_by_the_cli(tmp_path):
    empty = tmp_path / "x.tflite"
    empty.write_bytes(b"")
    r = subprocess.run([sys.executable, "-m", "edgeapp", "infer", "pose", str(IMAGES / "squat.bmp"), "--model", str(empty)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert f"{empty} cannot be loaded; it is truncated" in r.stderr


def test_detector_given_as_pose_model_is_refused():
    model = Model.open(SSD, BackendRequest("cpu"))
    with pytest.raises(ModelError, match=r"does not look like a MoveNet.*\[1, 300, 300, 3\]|outputs"):
        MoveNet(model)


@pytest.mark.parametrize(
    "kwargs, key",
    [({"kind": "gpu"}, "backend"), ({"device": "usb0"}, "edgetpu.device"), ({"threads": 0}, "threads")],
)
def test_bad_backend_request_names_the_key(kwargs, key):
    with pytest.raises(ConfigError) as err:
        BackendRequest(**kwargs)
    assert err.value.path == key


def test_models_read_their_input_contract():
    pose = Model.open(MOVENET, BackendRequest("cpu"))
    assert pose.image_input_size() == (192, 192) and pose.input.dtype == np.uint8
    ssd = Model.open(SSD, BackendRequest("cpu"))
    assert ssd.image_input_size() == (300, 300)
    assert ssd.input.quantized and ssd.input.zero_point == 128
    assert ssd.output_named("TFLite_Detection_PostProcess:3") is not None


@pytest.mark.parametrize("window", [InputWindow(100.0, 40.0, 292.0, 232.0), InputWindow(-50.0, -20.0, 400.0, 430.0)],
                         ids=["inside: resize", "past the edges: warp"])
def test_write_window_puts_exactly_the_sampled_rgb_image_in_the_tensor(window):
    frame = read_image(IMAGES / "squat.bmp")
    model = Model.open(ModelFiles.from_path(MOVENET), BackendRequest(kind="cpu", threads=1))
    model.write_window(frame, window)
    direct = model.input_buffer()[0].copy()
    write_image(model, sample(frame, window, 192, 192))
    np.testing.assert_array_equal(direct, model.input_buffer()[0])
    assert direct[..., 0].mean() != direct[..., 2].mean()  # a colour image: a missed swap would show
    model.invoke()  # no view of the tensor outlived the writes
