"""fastconv._reference: plain-NumPy twins of every fastconv.ops function.

Same names and signatures as fastconv.ops; written independently of the kernels (direct loops
or strided windows, float64 arithmetic, cast back to the input dtype). Tests hold the compiled
kernels against these. Select them explicitly; fastconv never falls back to them silently.
"""
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403
from . import conv, pooling, embedding, activation, optim

__all__ = [*conv.__all__, *pooling.__all__, *embedding.__all__, *activation.__all__,
           *optim.__all__]
