"""`hubbleclip serve`: the sky-search web page on top of a retrieval index."""

from __future__ import annotations

import argparse
import ipaddress


def register(sub: argparse._SubParsersAction) -> None:
    from hubbleclip.config import add_config_arguments
    from hubbleclip.web.config import ServeConfig

    serve = sub.add_parser(
        "serve",
        help="web page for sky search and image similarity",
        description="Serve the sky-search page and its JSON API (docs at /docs) for an index "
        "built with `hubbleclip index build`. Binds to loopback by default.",
    )
    add_config_arguments(serve, ServeConfig)
    serve.set_defaults(func=run_serve)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from hubbleclip.cli import UserError
    from hubbleclip.config import config_from_args
    from hubbleclip.web.app import create_app
    from hubbleclip.web.config import ServeConfig
    from hubbleclip.web.engine import load_engine

    cfg = config_from_args(args, ServeConfig)
    if not cfg.index:
        raise UserError(
            "--index: give the retrieval index directory (build one with `hubbleclip index build`)"
        )
    if not 0 < cfg.port < 65536:
        raise UserError(f"--port: expected 1-65535, got {cfg.port}")
    log = logging.getLogger("hubbleclip.web")
    if not is_loopback(cfg.host):
        log.warning(
            "binding to %s: the page is reachable from other machines (it has no authentication)", cfg.host
        )
    app = create_app(load_engine(cfg), cfg.limits)
    log.info("serving %s on http://%s:%d/ (API docs at /docs)", cfg.index, cfg.host, cfg.port)
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="warning")
    return 0
