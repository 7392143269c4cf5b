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
settings.register_profile(
    "deep", derandomize=False, database=None, deadline=None, print_blob=True,
    max_examples=5000, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("FASTCONV_HYPOTHESIS_PROFILE", "ci"))


def pytest_report_header(config):
    return [f"FASTCONV_TEST_SEED={_SEED} (set it to reproduce this run)",
            f"fastconv {fastconv.__version__} from {os.path.dirname(fastconv.__file__)}"]


@pytest.fixture
def seed():
    """The run's seed; tests derive their RNGs from it so any seed 0-99 must pass."""
    return _SEED


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
