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
    parser.add_argument(
        "--instance",
        metavar="STAGE[-N]",
        help="run one replica of one stage (systemd's canhgac-stage@STAGE-N): no collectors, no API, "
        "the metrics listener on metrics_listener.port + N so replicas on one host never collide",
    )
    parser.set_defaults(func=run)


def parse_instance(name: str) -> tuple[str, int]:
    """`detector-2` -> ("detector", 2); a bare stage name is replica 0."""
    if name in ALL_STAGES:
        return name, 0
    stage, _, number = name.rpartition("-")
    if stage in ALL_STAGES and number.isdigit():
        return stage, int(number)
    raise ValueError(f"instance {name!r} is not STAGE or STAGE-N; stages: {', '.join(ALL_STAGES)}")


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Client libraries log every request at INFO; their warnings and errors still show.
    for noisy in ("opensearch", "aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    stages = tuple(s for s in args.stages.split(",") if s)
    if args.instance:
        try:
            stage, number = parse_instance(args.instance)
        except ValueError as exc:
            print(exc)
            return 2
        listener = settings.metrics_listener
        if listener.port and listener.port + number > 65535:
            print(f"metrics_listener.port {listener.port} + {number} is not a port")
            return 2
        port = listener.port + number if listener.port else 0
        settings = settings.model_copy(update={"metrics_listener": listener.model_copy(update={"port": port})})
        stages, args.no_collectors, args.no_api = (stage,), True, True
    unknown = [s for s in stages if s not in ALL_STAGES]
    if unknown:
        print(f"unknown stage(s): {', '.join(unknown)}; known: {', '.join(ALL_STAGES)}")
        return 2
    on_started = None
    if args.demo:
        from canhgac.demo_feed import run_demo_loop, with_demo_sources

        settings = with_demo_sources(settings)  # each demo agency sends from its own declared source
        on_started = run_demo_loop
    runtime = Runtime(settings, stages=stages, collectors=not args.no_collectors, api=not args.no_api)
    run_forever(runtime, on_started)
    return 0
