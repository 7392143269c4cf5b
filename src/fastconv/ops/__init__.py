"""fastconv.ops: the public functional API over the compiled kernels.

Every function validates its arguments (TypeError / ValueError naming the argument), makes inputs
C-contiguous in the promoted float dtype, allocates (or checks) outputs and calls a kernel from
fastconv._ext with the GIL released. `fastconv._reference` has a NumPy twin of each, same
names and signatures.
"""
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403
from . import conv, pooling, embedding, activation, optim

__all__ = [*conv.__all__, *pooling.__all__, *embedding.__all__, *activation.__all__,
           *optim.__all__]
