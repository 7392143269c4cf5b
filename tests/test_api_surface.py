"""fastconv.ops and its NumPy twin fastconv._reference expose the same functions (TESTING.md A1)."""
import inspect

import pytest

import fastconv._reference as ref
import fastconv.ops as ops

OPS = sorted(ops.__all__)
REF = sorted(ref.__all__)


def test_same_public_names():
    assert len(OPS) == len(set(OPS)), "duplicate names in fastconv.ops.__all__"
    assert set(OPS) == set(REF), (set(OPS) ^ set(REF))


def test_every_kernel_family_is_exported():
    expected = {"max_pool1d", "max_pool1d_backward", "average_pool1d", "average_pool1d_backward",
                "global_max_pool1d", "global_max_pool1d_backward", "global_average_pool1d",
                "global_average_pool1d_backward", "embedding", "embedding_backward",
                "bias_activation", "activation_backward", "sgd_update", "rmsprop_update",
                "adam_update"}
    assert expected <= set(OPS)


@pytest.mark.parametrize("name", sorted(set(OPS) | set(REF)))
def test_identical_signatures(name):
    f, g = getattr(ops, name, None), getattr(ref, name, None)
    assert callable(f), f"fastconv.ops.{name} missing"
    assert callable(g), f"fastconv._reference.{name} missing"
    assert inspect.signature(f) == inspect.signature(g), name


@pytest.mark.parametrize("name", OPS)
def test_public_functions_are_documented(name):
    doc = inspect.getdoc(getattr(ops, name)) or ""
    for section in ("Args:", "Returns:", "Raises:", "Example:"):
        assert section in doc, f"fastconv.ops.{name} docstring lacks {section}"


def test_internal_loss_step_has_its_twin():
    # fastconv.ops.losses is internal (not in __all__) but has a twin like every kernel
    f, g = ops.losses.binary_crossentropy_step, ref.losses.binary_crossentropy_step
    assert f is not g
    assert inspect.signature(f) == inspect.signature(g)
