"""Shared fixtures: small real data from tests/data, built with the real builders."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

# nothing in the test suite may reach a model hub
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TEST_DATA = Path(__file__).parent / "data"
STELLARIUM_DIR = TEST_DATA / "stellarium"
KSTARS_DIR = TEST_DATA / "kstars"
FIRST_ZIP = TEST_DATA / "first" / "galaxy_data.zip"


def _sigint_state() -> tuple:
    return signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, [])


@pytest.fixture(autouse=True)
def _sigint_left_alone():
    """A test that leaves Ctrl-C ignored, blocked or handled by its own code changes every later test
    whose subprocess inherits that (a Ctrl-C test then sees its signal lost): it fails here, named."""
    before = _sigint_state()
    yield
    after = _sigint_state()
    if after != before:
        signal.signal(signal.SIGINT, before[0])
        signal.pthread_sigmask(signal.SIG_SETMASK, before[1])
        pytest.fail(f"the test changed SIGINT's handler or the blocked signals: {before} -> {after}")


@pytest.fixture(scope="session")
def tiny_skyset(tmp_path_factory) -> str:
    """A saved DatasetDict built by the real skyset builder from the real images in tests/data:
    12 Stellarium images matched to OpenNGC, 12 FIRST radio galaxies (3 per class), 4 Hubble Deep
    Field cut-outs, and the OpenNGC catalog rows of objects brighter than V = 8."""
    from hubbleclip.data.build import build_skyset
    from hubbleclip.data.config import SkysetConfig

    out = tmp_path_factory.mktemp("skyset") / "tiny"
    cfg = SkysetConfig(
        out=str(out),
        stellarium_dir=str(STELLARIUM_DIR),
        kstars_dir=str(KSTARS_DIR),
        first_zip=str(FIRST_ZIP),
        catalog_max_mag=8.0,
        hdf_cutouts=4,
        max_image_size=96,
        workers=1,
    )
    build_skyset(cfg)
    return str(out)


@pytest.fixture(scope="session")
def catalog_skyset(tmp_path_factory) -> str:
    """Like ``tiny_skyset`` without FIRST and HDF, but with every OpenNGC catalog row (13,371
    objects, faint ones too): what name, position and brightness searches need."""
    from hubbleclip.data.build import SkysetConfig, build_skyset

    out = tmp_path_factory.mktemp("skyset") / "catalog"
    cfg = SkysetConfig(
        out=str(out),
        sources=["openngc", "stellarium"],
        stellarium_dir=str(STELLARIUM_DIR),
        kstars_dir=str(KSTARS_DIR),
        hdf_cutouts=0,
        max_image_size=64,
        workers=1,
    )
    build_skyset(cfg)
    return str(out)


@pytest.fixture(scope="session")
def access_world(tiny_skyset, tiny, tmp_path_factory):
    """Public rows and private near-copies of them, with indexes and tokens (tests/access_world.py)."""
    from access_world import build_world

    return build_world(tiny_skyset, tmp_path_factory.mktemp("access"), tiny["tiny-lit"])


@pytest.fixture(scope="session")
def forkserver():
    """A forkserver with the heavy modules imported (tests/kill_jobs.py PRELOAD): a job or a server
    process forked from it starts in milliseconds instead of importing torch again."""
    import multiprocessing

    from kill_jobs import PRELOAD, child

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    tests = str(Path(__file__).parent)
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([tests, *(p for p in [saved] if p)])  # kill_jobs importable
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = saved
    warm = ctx.Process(target=child, args=("nothing", [], tests, os.devnull, {}, None))
    warm.start()  # returns once the preloading is done, before anything is timed
    warm.join()
    return ctx


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """Tiny random-init models (tests/tiny_models.py): ``tiny["tiny-lit"]`` is the directory of a
    saved model, a spec for ``load_model``, configs and CLI arguments alike."""
    from tiny_models import TinyModels

    return TinyModels(tmp_path_factory.mktemp("tiny-models"))
