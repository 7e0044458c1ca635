"""edgeapp: pose, yoga classification, detection and pan/tilt tracking on a Raspberry Pi."""

__version__ = "0.1.0"
