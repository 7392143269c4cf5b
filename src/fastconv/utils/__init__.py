"""fastconv.utils: seeding and data helpers."""
import random

import numpy as np

from .sequence_utils import pad_sequences

__all__ = ["set_random_seed", "pad_sequences"]


def set_random_seed(seed):
    """Seed Python's `random` and NumPy's global RNG (weights, shuffling and Dropout use them).

    Args:
        seed: a Python int.

    Raises:
        ValueError: `seed` is not an int.

    Example:
    >>> import numpy as np, fastconv
    >>> fastconv.utils.set_random_seed(3); a = np.random.rand()
    >>> fastconv.utils.set_random_seed(3); a == np.random.rand()
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(
            f"Expected `seed` argument to be an integer. Received: seed={seed} "
            f"(of type {type(seed)})")
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
