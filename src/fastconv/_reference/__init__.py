"""fastconv._reference: plain-NumPy twins of every fastconv.ops function.

Same names and signatures as fastconv.ops; written independently of the kernels (direct loops
or strided windows, float64 arithmetic, cast back to the input dtype). Tests hold the compiled
kernels against these. Select them explicitly; fastconv never falls back to them silently.
"""
# Keep the submodules: `embedding` the function shadows `embedding` the module below.
from . import conv, pooling, embedding, activation, optim  # noqa: E402
from . import losses  # noqa: E402,F401  (internal: the training step's loss)
_MODULES = (conv, pooling, embedding, activation, optim)
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403

__all__ = [name for module in _MODULES for name in module.__all__]
