"""``nerve.nn.utils``: gradient clipping under the name PyTorch users know
(``torch.nn.utils.clip_grad_norm_``); the functions live in ``nerve.optim.clip``."""
from ..optim.clip import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]
