"""Neural-network building blocks shaped like ``torch.nn``: modules, layers, losses, init."""
from . import functional, init, utils  # noqa: F401
from .activation import *  # noqa: F401,F403
from .containers import ModuleDict, ModuleList, Sequential  # noqa: F401
from .conv import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .module import Module  # noqa: F401
from .normalization import *  # noqa: F401,F403
from .parameter import Buffer, Parameter  # noqa: F401
from .pooling import *  # noqa: F401,F403
from .regularization import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
