"""Flat parameter vectors and the iteration loop shared by the full-batch methods.

The second-order and line-search methods (``GD`` with a line search, ``Newton``, ``BFGS``,
``LBFGS``, ``ConjugateGradient``, ``HessianFree``) see all parameters as one vector ``x``: the
parameters are concatenated in order (each flattened in C order) and the gradient likewise.
``FlatOptimizer`` holds what they share: the closure protocol, gradients with or without a
graph, Hessian-vector products, hyperparameter checks, line-search dispatch and the
iteration loop of ``torch.optim.LBFGS`` (its stopping rules and counters), into which each
method plugs its search direction.
"""
from __future__ import annotations

from ..autograd import grad_mode
from ..autograd.engine import grad as autograd_grad
from ..autograd.tensor import Tensor
from ..backend import get_array_module
from .line_search import LineSearchResult, backtracking, check_armijo, strong_wolfe
from .optimizer import Optimizer, check_hyper

LINE_SEARCHES = ("backtracking", "strong_wolfe")


# ---- flat views ------------------------------------------------------------------------------
def flatten(arrays, params):
    """One vector from per-parameter arrays/Tensors (``None`` counts as zeros)."""
    xp = get_array_module(params[0].data)
    parts = []
    for a, p in zip(arrays, params):
        if a is None:
            parts.append(xp.zeros(p.data.size, dtype=p.data.dtype))
        else:
            parts.append((a.data if isinstance(a, Tensor) else a).reshape(-1))
    return xp.concatenate(parts)


def unflatten(vec, params) -> list:
    """Per-parameter pieces of ``vec`` shaped (and typed) like ``params``."""
    pieces, offset = [], 0
    for p in params:
        n = p.data.size
        pieces.append(vec[offset:offset + n].reshape(p.data.shape).astype(p.data.dtype))
        offset += n
    if offset != vec.size:
        raise ValueError(f"unflatten: the vector has {vec.size} entries, the parameters {offset}")
    return pieces


def flat_params(params):
    """A copy of the parameters as one vector."""
    return flatten([p.data for p in params], params).copy()


def set_params(params, vec) -> None:
    for p, piece in zip(params, unflatten(vec, params)):
        p.data = piece


def add_to_params(params, t: float, d) -> None:
    """``x <- x + t d`` (new arrays: the old ones may be saved by a graph)."""
    xp = get_array_module(d)
    for p, piece in zip(params, unflatten(d, params)):
        p.data = xp.asarray(p.data + t * piece)  # 0-d arithmetic gives scalars, not arrays


# ---- closures, gradients and curvature -------------------------------------------------------
def call_closure(closure):
    with grad_mode.enable_grad():
        return closure()


def closure_gradients(where: str, loss, params, create_graph: bool = False) -> list:
    """Gradients of the closure's ``loss`` with respect to ``params`` (a list, ``None`` where
    a parameter is unused).

    A closure that called ``loss.backward()`` left them in ``p.grad``; one that only returned
    the loss gets them computed here. With ``create_graph`` (for curvature products) they must
    carry a graph: either the closure returned the loss without calling backward, or it called
    ``loss.backward(create_graph=True)``.
    """
    grads = [p.grad for p in params]
    with_graph = any(g is not None and g.requires_grad for g in grads)
    if create_graph and with_graph:
        return grads
    if (create_graph or all(g is None for g in grads)) and isinstance(loss, Tensor) \
            and loss.requires_grad:
        try:
            with grad_mode.enable_grad():
                return list(autograd_grad(loss, params, create_graph=create_graph,
                                          allow_unused=True))
        except RuntimeError as err:
            if not create_graph:
                raise
            raise RuntimeError(
                f"{where}: needs second derivatives, but the closure's graph was freed by "
                "loss.backward(); let the closure return the loss without calling backward, "
                "or call loss.backward(create_graph=True)") from err
    if create_graph:
        raise RuntimeError(f"{where}: needs second derivatives, but the closure returned "
                           f"{type(loss).__name__} and left no gradients with a graph; return "
                           "the loss Tensor (or call loss.backward(create_graph=True))")
    return grads


def release_graph(params) -> None:
    """Drop the graphs that ``backward(create_graph=True)`` left on ``p.grad``."""
    for p in params:
        if p.grad is not None and p.grad.requires_grad:
            p.grad = p.grad.detach()


def graph_vector_product(outputs, params, vectors):
    """``d/dx sum_i <outputs_i, vectors_i>`` as a flat array (zeros where nothing depends).

    With ``outputs`` the gradients (with graph) this is a Hessian-vector product; with other
    differentiable outputs it is a transposed-Jacobian-vector product.
    """
    with grad_mode.enable_grad():  # (step() may run under no_grad)
        terms = [(o * Tensor(v)).sum() for o, v in zip(outputs, vectors)
                 if o is not None and o.requires_grad]
        if not terms:
            return flatten([None] * len(params), params)
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return flatten(autograd_grad(total, params, retain_graph=True, allow_unused=True),
                       params)


def hessian_vector_product(grads, params, v):
    """``H v`` from gradients that carry a graph (reverse over reverse)."""
    return graph_vector_product(grads, params, unflatten(v, params))


# ---- the shared optimizer --------------------------------------------------------------------
class FlatOptimizer(Optimizer):
    """Base of the methods that treat all parameters as one vector (one parameter group;
    the state lives with the first parameter, as in ``torch.optim.LBFGS``).

    Subclasses provide ``_direction(state, g)`` and may override ``_initial_step`` and
    ``_first_evaluation``; ``step(closure)`` runs up to ``max_iter`` iterations of: direction,
    step length (fixed ``lr`` or a line search), update, stopping tests.
    """

    _c2 = 0.9  # the strong Wolfe curvature constant (Nocedal & Wright: 0.9 for quasi-Newton)
    _ls_budget = 30  # line-search evaluations per iteration when the group has no max_eval
    _descent_only = True  # stop when the direction is not a descent direction

    def __init__(self, params, defaults: dict):
        super().__init__(params, defaults)
        self._params = self.param_groups[0]["params"]

    def _single_group(self) -> bool:
        return True

    def add_param_group(self, group: dict) -> None:
        if self.param_groups and self._single_group():
            raise ValueError(f"{type(self).__name__} doesn't support per-parameter options "
                             "(parameter groups): it optimizes all parameters as one vector")
        super().add_param_group(group)

    def _validate_group(self, group: dict) -> None:
        name = type(self).__name__
        if not group["params"]:
            raise ValueError(f"{name}: got an empty parameter list")
        check_hyper(self, "lr", group["lr"])
        ls = group.get("line_search_fn")
        if not (ls is None or callable(ls) or ls in LINE_SEARCHES):
            raise ValueError(f"{name}: line_search_fn must be None, 'backtracking', "
                             f"'strong_wolfe' or a callable, got {ls!r}")
        if "alpha" in group:
            check_armijo(name, group["alpha"], group["beta"])
            if ls == "strong_wolfe" and not group["alpha"] < self._c2:
                raise ValueError(f"{name}: strong Wolfe needs alpha < c2 = {self._c2}, got "
                                 f"alpha={group['alpha']}")
        for key in ("max_iter", "max_eval", "history_size", "max_cg", "max_params",
                    "restart_every"):
            value = group.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"{name}: {key} must be a positive integer, got {value!r}")
        for key in ("tolerance_grad", "tolerance_change", "damping"):
            if key in group:
                check_hyper(self, key, group[key])

    # ---- evaluations -------------------------------------------------------------------------
    def _evaluate(self, closure):
        """Run the closure: its return value and the flat gradient."""
        loss = call_closure(closure)
        grads = closure_gradients(type(self).__name__, loss, self._params)
        return loss, flatten(grads, self._params)

    def _first_evaluation(self, closure):
        return self._evaluate(closure)

    def _directional_evaluate(self, closure, x, t: float, d):
        """Loss and gradient at ``x + t d``; the parameters are put back to ``x``."""
        add_to_params(self._params, t, d)
        loss, g = self._evaluate(closure)
        set_params(self._params, x)
        return float(loss), g

    def _line_search(self, closure, d, f: float, g, gtd: float, t: float, max_evals: int):
        """Dispatch to the group's line search; returns a ``LineSearchResult``."""
        group = self.param_groups[0]
        kind = group["line_search_fn"]
        x = flat_params(self._params)

        def obj(step):
            return self._directional_evaluate(closure, x, step, d)

        if kind == "backtracking":
            return backtracking(obj, f, gtd, t, group["alpha"], group["beta"], max_evals, g=g)
        if kind == "strong_wolfe":
            return strong_wolfe(obj, d, f, g, gtd, t, c1=group["alpha"], c2=self._c2,
                                tolerance_change=group.get("tolerance_change", 1e-9),
                                max_evals=max_evals)
        # a user's line search: fn(obj, d, f, g, gtd, t) -> (t, f, g, evals)
        return LineSearchResult(*kind(obj, d, f, g, gtd, t))

    # ---- the iteration loop ------------------------------------------------------------------
    def _direction(self, state: dict, g):
        raise NotImplementedError

    @staticmethod
    def _secant_pair(state: dict, g):
        """The quasi-Newton pair of the last step: ``s = x_{k+1} - x_k``, ``y = g_{k+1} - g_k``
        and the curvature ``y^T s`` (a float)."""
        y = g - state["prev_flat_grad"]
        s = state["d"] * state["t"]
        return s, y, float((y * s).sum())

    def _initial_step(self, state: dict, g, d, gtd: float, lr: float) -> float:
        """``lr``, except on the very first iteration, where ``min(1, 1/|g|_1) lr`` keeps an
        unscaled first direction ``-g`` from overshooting (as ``torch.optim.LBFGS``)."""
        if state["n_iter"] == 1:
            return min(1.0, 1.0 / float(abs(g).sum())) * lr
        return lr

    def step(self, closure=None):
        """Up to ``max_iter`` iterations; returns the closure's loss at the starting point."""
        name = type(self).__name__
        if closure is None:
            raise TypeError(f"{name}.step: a closure is required (it zeroes the gradients, "
                            "computes the loss, calls backward and returns the loss)")
        group = self.param_groups[0]
        lr = group["lr"]
        max_iter = group.get("max_iter", 1)
        max_eval = group.get("max_eval") or 1 + self._ls_budget
        tolerance_grad = group.get("tolerance_grad", 0.0)
        tolerance_change = group.get("tolerance_change", 0.0)
        line_search = group["line_search_fn"]
        state = self.state_for(self._params[0])
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss, g = self._first_evaluation(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        if float(abs(g).max()) <= tolerance_grad:
            return orig_loss

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            d = self._direction(state, g)
            state["prev_flat_grad"] = g.copy()
            state["prev_loss"] = loss
            gtd = float((g * d).sum())
            t = self._initial_step(state, g, d, gtd, lr)
            state["d"], state["t"], state["gtd"] = d, t, gtd
            if self._descent_only and gtd > -tolerance_change:  # no descent left
                break
            if line_search is None:
                add_to_params(self._params, t, d)
                evals = 0
                if n_iter != max_iter:  # the next step() evaluates the last point anyway
                    loss, g = self._evaluate(closure)
                    loss = float(loss)
                    evals = 1
            else:
                found = self._line_search(closure, d, loss, g, gtd, t, max_eval - current_evals)
                t, loss, g, evals = found.t, found.f, found.g, found.evals
                state["t"] = t
                add_to_params(self._params, t, d)
            current_evals += evals
            state["func_evals"] += evals
            if n_iter == max_iter or current_evals >= max_eval:
                break
            if float(abs(g).max()) <= tolerance_grad:
                break
            if float(abs(d * t).max()) <= tolerance_change:
                break
            if abs(loss - state["prev_loss"]) < tolerance_change:
                break
        return orig_loss
