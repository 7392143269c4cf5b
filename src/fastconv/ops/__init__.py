"""fastconv.ops: the public functional API over the compiled kernels.

Every function validates its arguments (TypeError / ValueError naming the argument), makes inputs
C-contiguous in the promoted float dtype, allocates (or checks) outputs and calls a kernel from
fastconv._ext with the GIL released. `fastconv._reference` has a NumPy twin of each, same
names and signatures.
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
