"""The ``edgeapp`` command line.

Each feature lives in its own module with a ``register(cli)`` function that adds
its subcommands to shared groups (``infer``, ``bench``, ``models``, ...), so a
feature's command sits next to nothing but itself.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from edgeapp import __version__, logs
from edgeapp.errors import EXIT_USAGE, EdgeappError

COMMAND_MODULES = (
    "edgeapp.cli.pose",
    "edgeapp.cli.detect",
    "edgeapp.cli.evaluate",
    "edgeapp.cli.pantilt",
    "edgeapp.cli.models",
    "edgeapp.cli.service",
    "edgeapp.cli.mqtt",
    "edgeapp.cli.classify",
    "edgeapp.cli.preview",
    "edgeapp.cli.reps",
)


class CommandGroups:
    """Top-level subcommands; a group (``infer``, ``bench``) may be extended by several modules."""

    def __init__(self, subparsers: argparse._SubParsersAction):
        self._top = subparsers
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def command(self, name: str, help: str) -> argparse.ArgumentParser:
        return self._top.add_parser(name, help=help, description=help)

    def group(self, name: str, help: str = "") -> argparse._SubParsersAction:
        if name not in self._groups:
            parser = self._top.add_parser(name, help=help or f"{name} commands")
            self._groups[name] = parser.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")
        return self._groups[name]

    def add(self, group: str, name: str, help: str) -> argparse.ArgumentParser:
        return self.group(group).add_parser(name, help=help, description=help)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgeapp", description="Pose, yoga, detection and tracking at the edge.")
    parser.add_argument("--version", action="version", version=f"edgeapp {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    cli = CommandGroups(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(cli)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    _share_the_cores()
    logs.configure(level)
    try:
        return int(args.func(args) or 0)
    except EdgeappError as exc:
        print(f"edgeapp: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # `edgeapp infer ... | head` is fine
        return 0
    except KeyboardInterrupt:
        return 130


def _share_the_cores() -> None:
    # The per-frame image work is small (one 192-320 px warp); OpenCV's own thread pool only
    # competes with the interpreter's threads for the cores and made each warp 3-6x slower.
    import cv2

    cv2.setNumThreads(1)


def usage_error(message: str) -> int:
    print(f"edgeapp: error: {message}", file=sys.stderr)
    return EXIT_USAGE
