# Developer shortcuts. CI runs scripts/test.sh (the same tests against a built wheel);
# nightly / release runs `make test-deep`.
PYTHON ?= python

.PHONY: test test-deep fuzz

# The fast tier (TESTING.md "CI"): the default suite, `-m deep` deselected.
test:
	cd tests && $(PYTHON) -m pytest -c ../pyproject.toml --rootdir .. $(PYTEST_ARGS)

# The deep tier: sanitizer, debug, valgrind, TSan, fuzzing, seeds, leak loops, oracles.
# Knobs (FASTCONV_DEEP_STEPS, FASTCONV_FUZZ_RUNS, ...) are listed in scripts/test_deep.sh.
test-deep:
	PYTHON=$(PYTHON) bash scripts/test_deep.sh

# Only the atheris targets (step 5 of the deep tier).
fuzz:
	PYTHON=$(PYTHON) FASTCONV_DEEP_STEPS=5 bash scripts/test_deep.sh
