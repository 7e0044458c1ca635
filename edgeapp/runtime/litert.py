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


# LiteRT's C++ logger writes "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." straight to fd 2 for every
# interpreter, and offers Python no way to raise its threshold. While an interpreter is built, fd 2 goes to a file;
# afterwards INFO lines go to our log at DEBUG (shown with -vv / log_level debug) and everything else goes back to
# stderr as it came. The lock keeps two builders from swapping fd 2 under each other.
_native_stderr = threading.Lock()


@contextlib.contextmanager
def native_info_to_debug():
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
            for line in sink.read().decode(errors="replace").splitlines(keepends=True):
                if line.startswith("INFO: "):
                    log.debug("litert: %s", line.strip())
                else:
                    sys.stderr.write(line)
            sys.stderr.flush()
