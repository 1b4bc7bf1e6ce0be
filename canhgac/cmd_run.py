"""`canhgac run`: collectors, pipeline stages, detector and API in one process."""

from __future__ import annotations

import argparse
import logging

from canhgac.core.config import load_settings
from canhgac.runtime import ALL_STAGES, Runtime, run_forever


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("run", help="run collectors, pipeline stages, detector and API in one process")
    parser.add_argument(
        "--stages",
        default=",".join(ALL_STAGES),
        help=f"comma-separated stages to run (default: {','.join(ALL_STAGES)}); large sites split them",
    )
    parser.add_argument("--no-collectors", action="store_true", help="do not listen for logs")
    parser.add_argument("--no-api", action="store_true", help="do not serve the API")
    parser.add_argument("--demo", action="store_true", help="also send the demo feed of provincial logs")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Client libraries log every request at INFO; their warnings and errors still show.
    for noisy in ("opensearch", "aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    stages = tuple(s for s in args.stages.split(",") if s)
    unknown = [s for s in stages if s not in ALL_STAGES]
    if unknown:
        print(f"unknown stage(s): {', '.join(unknown)}; known: {', '.join(ALL_STAGES)}")
        return 2
    runtime = Runtime(settings, stages=stages, collectors=not args.no_collectors, api=not args.no_api)
    on_started = None
    if args.demo:
        from canhgac.demo_feed import run_demo_loop

        on_started = run_demo_loop
    run_forever(runtime, on_started)
    return 0
