"""``edgeapp bench preview``."""

from __future__ import annotations

import argparse

from edgeapp.cli import usage_error
from edgeapp.cli.common import add_json_option, short_gil_turns, thread_count


def register(cli) -> None:
    b = cli.add("bench", "preview", "pipeline fps on a clip with and without a connected preview viewer")
    b.add_argument("--clip", default=None,
                   help="a video clip (default: a short clip made from the shared tree-pose image)")
    b.add_argument("--models-dir", default="", help="models directory (default: the registry's)")
    b.add_argument("--seconds", type=float, default=5.0, help="length of each phase (default 5)")
    b.add_argument("--rounds", type=int, default=2, help="without/with rounds (default 2)")
    b.add_argument("--threads", type=thread_count, default=2, help="inference threads (default 2)")
    b.add_argument("--max-fps", type=float, default=10.0, help="preview rate cap (default 10, as [preview])")
    add_json_option(b)
    b.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    if args.seconds <= 0 or args.rounds < 1:
        return usage_error("--seconds must be > 0 and --rounds at least 1")
    if not 0 < args.max_fps <= 30:
        return usage_error("--max-fps must be in (0, 30]")
    from edgeapp.bench.preview import bench_preview, print_report, with_clip

    short_gil_turns()  # as `run` has them: the pipeline's fps are the service's
    report = with_clip(args.clip, lambda clip: bench_preview(clip, args.models_dir, args.seconds, args.rounds,
                                                              args.threads, args.max_fps))
    print_report(report, as_json=args.json)
    return 0
