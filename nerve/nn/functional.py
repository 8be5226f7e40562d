"""``nerve.nn.functional``: the functional forms of layers, activations and losses (as
``torch.nn.functional``). Each family lives in its own ``nerve/ops`` module."""
from ..ops.attention import *  # noqa: F401,F403
from ..ops.conv import *  # noqa: F401,F403
from ..ops.dropout import *  # noqa: F401,F403
from ..ops.indexing import one_hot  # noqa: F401
from ..ops.linear import *  # noqa: F401,F403
from ..ops.loss import *  # noqa: F401,F403
from ..ops.math import (  # noqa: F401
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from ..ops.norm import *  # noqa: F401,F403
from ..ops.pool import *  # noqa: F401,F403
from ..ops.recurrent import *  # noqa: F401,F403
from ..ops.shape import pad  # noqa: F401
