"""Where the TFLite interpreter comes from.

``ai_edge_litert`` is the maintained runtime and works with numpy 1 and 2.
``tflite_runtime`` is frozen at 2.14 and only works with numpy < 2; it is kept
as a fallback for devices that already have it. Google's pycoral is never used
(its PyPI name belongs to an unrelated project).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading

log = logging.getLogger(__name__)

try:
    from ai_edge_litert.interpreter import Interpreter, load_delegate

    RUNTIME_NAME = "ai-edge-litert"
except ImportError:  # pragma: no cover - exercised only where LiteRT is absent
    from tflite_runtime.interpreter import Interpreter, load_delegate  # type: ignore[no-redef]

    RUNTIME_NAME = "tflite-runtime"

__all__ = ["Interpreter", "load_delegate", "native_info_to_debug", "RUNTIME_NAME"]


# LiteRT's C++ logger writes "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." straight to fd 2, once per
# process (a log-once in the library), when the first interpreter that uses XNNPACK allocates its tensors; it offers
# Python no way to raise its threshold. Redirecting fd 2 is process-wide: other threads' output written meanwhile
# reaches stderr late, and a native abort inside the build would take its message down with the temporary file. So fd 2
# is redirected only while that line can still come (until it has been seen once), and only around CPU builds
# (see backend._make_interpreter): the Edge TPU's delegate must be able to say why it aborts. The caught INFO lines go
# to our log at DEBUG (shown with -vv / log_level debug) and everything else goes back to stderr as it came. The lock
# keeps two builders from swapping fd 2 under each other; the event mirrors the library's own once-per-process flag.
_XNNPACK_LINE = "INFO: Created TensorFlow Lite XNNPACK delegate"
_native_stderr = threading.Lock()
_xnnpack_line_seen = threading.Event()


@contextlib.contextmanager
def native_info_to_debug():
    if _xnnpack_line_seen.is_set():
        yield
        return
    with _native_stderr, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            _replay(sink.read().decode(errors="replace"))


def _replay(captured: str) -> None:
    for line in captured.splitlines(keepends=True):
        if line.startswith("INFO: "):
            log.debug("litert: %s", line.strip())
            if line.startswith(_XNNPACK_LINE):
                _xnnpack_line_seen.set()
        else:
            sys.stderr.write(line)
    sys.stderr.flush()
