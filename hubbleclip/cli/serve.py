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


def exposure_warning(cfg) -> str | None:
    """The warning for a non-loopback address when no access decision was made."""
    if is_loopback(cfg.host) or cfg.tokens or cfg.public_only:
        return None
    return (
        f"binding to {cfg.host}: the page is reachable from other machines. They see public rows only; "
        "pass --public_only true to confirm that, or --tokens FILE to let token holders see their "
        "programs' proprietary rows"
    )


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
    if cfg.tokens and cfg.public_only:
        raise UserError("--tokens and --public_only exclude each other: choose one")
    if cfg.limits.max_decodes < 1:
        raise UserError(f"--limits.max_decodes: expected at least 1, got {cfg.limits.max_decodes}")
    log = logging.getLogger("hubbleclip.web")
    warning = exposure_warning(cfg)
    if warning:
        log.warning(warning)
    engine = load_engine(cfg)
    if engine.tokens is not None:
        log.info(
            "access tokens: %d from %s, re-read within %g s of a change (token values are never logged)",
            len(engine.tokens),
            cfg.tokens,
            cfg.token_check_s,
        )
    app = create_app(engine, cfg.limits)
    log.info("serving %s on http://%s:%d/ (API docs at /docs)", cfg.index, cfg.host, cfg.port)
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="warning")
    return 0
