"""Bounded load check of the web API on loopback: p50/p99 latency and errors under concurrent clients.

    python -m bench.bench_web --serve.index runs/index [--serve.similarity SIM_DIR] [--clients 20] [--requests 5000]

Starts `hubbleclip serve` in a child process on 127.0.0.1, measures two baselines in the same run
(the same request mix answered by the library in-process, and over HTTP by one client), then
sends REQUESTS requests from CLIENTS concurrent clients; stops after --max_seconds in any case.
Writes OUT/report.json.
"""  # noqa: E501 - copyable shell command

import argparse
import json

from bench.harness.loadcheck import LoadConfig, run_load_check
from hubbleclip.config import add_config_arguments, config_from_args


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_config_arguments(parser, LoadConfig)
    report = run_load_check(config_from_args(parser.parse_args(), LoadConfig))
    for name in ("direct", "one_client", "load"):
        r = report[name]
        extra = (
            f"  {r['requests']}/{r['planned']} requests in {r['wall_s']:.1f} s "
            f"({r['requests_per_s']:.0f}/s), "
            f"errors {r['errors']}, shed (503 + Retry-After) {r['shed']}"
            if "wall_s" in r
            else ""
        )
        print(f"{name:10s} p50 {r['p50_ms']:8.2f} ms  p99 {r['p99_ms']:8.2f} ms{extra}")
        for kind, k in r["by_kind"].items():
            print(f"    {kind:12s} n={k['n']:5d}  p50 {k['p50_ms']:8.2f} ms  p99 {k['p99_ms']:8.2f} ms")
    print("ratios: " + ", ".join(f"{k} {v:.2f}" for k, v in report["ratios"].items()))
    if "uploads" in report:
        u = report["uploads"]
        print(
            f"uploads   {u['uploads']} at once of {u['pixels'] / 1e6:.1f} Mpx ({u['bytes'] / 1e3:.0f} KB): "
            f"statuses {u['statuses']}, server RSS {u['rss_before_mb']:.0f} -> "
            f"peak {u['rss_peak_mb']:.0f} MB "
            f"(bound {u['bound_mb']:.0f} MB with max_decodes={u['max_decodes']})"
        )
    print(json.dumps({k: report[k] for k in ("ratios", "config")}))


if __name__ == "__main__":
    main()
