"""How long a full SIMBAD build takes at the services' rate limits, measured against servers at
``urls`` (a loopback fake with realistic latencies) in compressed time and extrapolated.

Time compression: the fake's latencies are divided by ``scale`` and every rate limit multiplied
by it, so network waiting shrinks ``scale``-fold; local CPU work does not shrink, which makes the
extrapolated time an upper bound.  The baseline is the same builder one request at a time, one
reference query per object and one DOI per Crossref request (how the source study fetched, ~10 s
per object), measured in the same run.
"""

from __future__ import annotations

from pathlib import Path

from hubbleclip.archives import build
from hubbleclip.archives.config import SimbadConfig

SERVICES = ("tap", "crossref", "hips2fits")


def _run(urls: dict[str, str], out: Path, n_objects: int, overrides: list[str]) -> dict:
    common = [
        f"tap_url={urls['tap_url']}",
        f"crossref_url={urls['crossref_url']}",
        f"hips2fits_url={urls['hips2fits_url']}",
        "mag_limit=99",
        f"max_objects={n_objects}",
        f"http.cache_dir={out / 'cache'}",
    ]
    report = build("simbad", out / "dataset", None, common + overrides, overwrite=True)
    return {
        "objects": report["objects"],
        "fetch_s": report["timings_s"]["fetch"],
        "requests": {k: v["requests"] for k, v in report["http"].items()},
    }


def benchmark_simbad(
    urls: dict[str, str],
    work_dir: Path,
    n_objects: int,
    baseline_objects: int,
    scale: float,
    target_objects: int = 13_000,
) -> dict:
    cfg = SimbadConfig()
    limits = {name: getattr(cfg, name) for name in SERVICES}
    rates = [f"{name}.rate_per_s={lim.rate_per_s * scale}" for name, lim in limits.items()]
    ours = _run(urls, Path(work_dir) / "ours", n_objects, rates)
    sequential = [f"{name}.concurrency=1" for name in SERVICES] + ["refs_batch=1", "doi_batch=1"]
    base = _run(urls, Path(work_dir) / "baseline", baseline_objects, rates + sequential)
    per_ours = ours["fetch_s"] * scale / ours["objects"]
    per_base = base["fetch_s"] * scale / base["objects"]
    # the cut-outs (one per object) at hips2fits' limit are the floor for any schedule
    floor = target_objects / limits["hips2fits"].rate_per_s
    return {
        "scale": scale,
        "target_objects": target_objects,
        "rate_limits": {
            name: {"rate_per_s": lim.rate_per_s, "concurrency": lim.concurrency}
            for name, lim in limits.items()
        },
        "ours": ours,
        "baseline": base,
        "seconds_per_object": {"ours": round(per_ours, 4), "baseline": round(per_base, 3)},
        "estimated_hours": {
            "ours": round(per_ours * target_objects / 3600, 2),
            "baseline": round(per_base * target_objects / 3600, 1),
            "rate_limit_floor": round(floor / 3600, 2),
        },
        "speedup_vs_baseline": round(per_base / per_ours, 1),
        "under_one_hour": per_ours * target_objects < 3600,
    }
