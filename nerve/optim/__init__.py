"""Optimizers, learning-rate schedules, second-order methods, line search and clipping."""
from . import line_search, lr_scheduler, problems, swa_utils  # noqa: F401
from .adam import Adam, AdamW, NAdam  # noqa: F401
from .adaptive import Adadelta, Adagrad, RMSprop  # noqa: F401
from .bfgs import BFGS  # noqa: F401
from .clip import clip_grad_norm_, clip_grad_value_, get_total_norm  # noqa: F401
from .conjugate_gradient import ConjugateGradient  # noqa: F401
from .gd import GD  # noqa: F401
from .group import OptimizerGroup  # noqa: F401
from .hessian_free import HessianFree  # noqa: F401
from .lbfgs import LBFGS  # noqa: F401
from .newton import Newton  # noqa: F401
from .optimizer import Optimizer, required  # noqa: F401
from .sgd import SGD  # noqa: F401
from .swa_utils import AveragedModel, get_ema_multi_avg_fn  # noqa: F401
