"""Where the TFLite interpreter comes from.

``ai_edge_litert`` is the maintained runtime and works with numpy 1 and 2.
``tflite_runtime`` is frozen at 2.14 and only works with numpy < 2; it is kept
as a fallback for devices that already have it. Google's pycoral is never used
(its PyPI name belongs to an unrelated project).
"""

from __future__ import annotations

try:
    from ai_edge_litert.interpreter import Interpreter, load_delegate

    RUNTIME_NAME = "ai-edge-litert"
except ImportError:  # pragma: no cover - exercised only where LiteRT is absent
    from tflite_runtime.interpreter import Interpreter, load_delegate  # type: ignore[no-redef]

    RUNTIME_NAME = "tflite-runtime"

__all__ = ["Interpreter", "load_delegate", "RUNTIME_NAME"]
