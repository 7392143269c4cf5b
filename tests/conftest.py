"""Shared test settings: one printed random seed per run, the Hypothesis `ci` profile,
and guards that keep tests on the installed package."""
import os
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import fastconv

_SEED = int(os.environ.get("FASTCONV_TEST_SEED", random.SystemRandom().randrange(100)))

settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
# `deep` (make test-deep) runs 10x Hypothesis' default of 100 examples; tests that fix their own
# count scale it by `settings.default.max_examples // 100`, so they get x10 there too.
settings.register_profile(
    "deep", derandomize=False, database=None, deadline=None, print_blob=True,
    max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("FASTCONV_HYPOTHESIS_PROFILE", "ci"))


def _parse_seeds(text):
    """Seeds from "0-99" or "3,7,10-12" (FASTCONV_TEST_SEEDS, used by the deep tier)."""
    seeds = []
    for part in text.replace(",", " ").split():
        lo, _, hi = part.partition("-")
        seeds.extend(range(int(lo), int(hi or lo) + 1))
    return seeds


# FASTCONV_TEST_SEEDS=0-99 runs every randomised test once per seed in one process (the deep
# tier's M1 check); unset, a run uses the single seed above.
_SEEDS = _parse_seeds(os.environ.get("FASTCONV_TEST_SEEDS", ""))


def pytest_generate_tests(metafunc):
    if _SEEDS and "seed" in metafunc.fixturenames:
        metafunc.parametrize("seed", _SEEDS, indirect=True, ids=[f"seed{s}" for s in _SEEDS])


def pytest_collection_modifyitems(config, items):
    # A test is randomised when it takes the run's seed (directly or through `rng` or another
    # fixture); `-m randomised` selects exactly the tests whose outcome can depend on the seed.
    for item in items:
        if "seed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.randomised)


def pytest_report_header(config):
    if _SEEDS:
        return [f"FASTCONV_TEST_SEEDS={os.environ['FASTCONV_TEST_SEEDS']}: randomised tests run "
                f"once per seed",
                f"fastconv {fastconv.__version__} from {os.path.dirname(fastconv.__file__)}"]
    return [f"FASTCONV_TEST_SEED={_SEED} (set it to reproduce this run)",
            f"fastconv {fastconv.__version__} from {os.path.dirname(fastconv.__file__)}"]


@pytest.fixture
def seed(request):
    """The run's seed; tests derive their RNGs from it so any seed 0-99 must pass."""
    return getattr(request, "param", _SEED)


@pytest.fixture
def rng(seed):
    return np.random.default_rng(seed)


@pytest.fixture
def num_threads():
    """Restore the OpenMP thread count after a test that changes it."""
    old = fastconv.get_num_threads()
    yield fastconv.set_num_threads
    fastconv.set_num_threads(old)


@pytest.fixture(scope="session")
def imdb_archive():
    """The real Large Movie Review Dataset archive (FASTCONV_DATA, or ../shared/data beside the
    repository, as CI lays it out); tests that need it skip where neither exists."""
    here = os.path.dirname(os.path.abspath(__file__))
    for place in (os.environ.get("FASTCONV_DATA", ""), os.path.join(here, "..", "..", "shared", "data")):
        if place and os.path.isdir(place):
            place = os.path.join(place, "aclImdb_v1_labeled.tar.gz")
        if place and os.path.isfile(place):
            return place
    pytest.skip("the IMDb archive is not available (set FASTCONV_DATA)")
