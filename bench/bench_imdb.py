"""IMDb data pipeline speed: first build (tokenise 50,000 reviews) and cached `load_data`.

Run: python -m pytest bench/bench_imdb.py --benchmark-only -p no:cacheprovider
Needs the archive: FASTCONV_DATA (file or folder) or ../shared/data/aclImdb_v1_labeled.tar.gz.
Targets: first build < 15 s on 2 cores, cached load < 1 s (both include reading the archive's
SHA-256, which keys the cache). `FASTCONV_IMDB_SERIAL=1` times the one-process build.
"""
import os

import pytest

from fastconv.datasets import imdb


def _archive():
    here = os.path.dirname(os.path.abspath(__file__))
    for c in (os.environ.get("FASTCONV_DATA", ""),
              os.path.join(here, "..", "..", "shared", "data")):
        if c and os.path.isdir(c):
            c = os.path.join(c, "aclImdb_v1_labeled.tar.gz")
        if c and os.path.isfile(c):
            return c
    return None


pytestmark = pytest.mark.skipif(_archive() is None, reason="the IMDb archive is not available")


def test_first_build(benchmark, tmp_path_factory, monkeypatch):
    def setup():  # an empty cache folder before every round
        monkeypatch.setenv("FASTCONV_HOME", str(tmp_path_factory.mktemp("home")))
        return (), {}

    benchmark.group = "imdb"
    benchmark.pedantic(lambda: imdb.load_data(_archive()), setup=setup, rounds=2, iterations=1)


def test_cached_load(benchmark, tmp_path, monkeypatch):
    monkeypatch.setenv("FASTCONV_HOME", str(tmp_path))
    imdb.load_data(_archive())  # builds the cache
    benchmark.group = "imdb"
    benchmark.pedantic(lambda: imdb.load_data(_archive(), num_words=20000), rounds=5,
                       iterations=1)
