"""The error hierarchy. Every error a user can cause names the bad thing.

The CLI maps each class to an exit status, and the systemd unit lists the
configuration status in ``RestartPreventExitStatus`` so that a bad config
does not become a restart loop.
"""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2  # bad input on the command line or a bad input file
EXIT_CONFIG = 78  # EX_CONFIG from sysexits.h; systemd must not restart on it


class EdgeappError(Exception):
    """Base class: a failure whose message is fit to show to a user."""

    exit_code = EXIT_FAILURE


class ConfigError(EdgeappError):
    """A configuration value is wrong. ``path`` is the dotted key path."""

    exit_code = EXIT_CONFIG

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"config {path}: {message}" if path else f"config: {message}")


class ModelError(EdgeappError):
    """A model file is missing, unreadable, of the wrong kind or needs other hardware."""

    exit_code = EXIT_USAGE


class BackendError(EdgeappError):
    """An accelerator or its delegate library cannot be used."""


class SourceError(EdgeappError):
    """A frame source (image, folder, video, camera, stream) cannot be read."""

    exit_code = EXIT_USAGE


class ClassifyError(EdgeappError):
    """Pose-classifier data or training settings are wrong: a keypoint CSV, a class folder, a training option."""

    exit_code = EXIT_USAGE
