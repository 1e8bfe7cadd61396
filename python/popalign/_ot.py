"""Entropic optimal transport (log-domain Sinkhorn) with POT's names: a, b, M, reg."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Tuple

import numpy as np

from . import _core
from ._align import _ReadableRepr

__all__ = ["sinkhorn", "sinkhorn_points", "SinkhornResult"]


@dataclass(frozen=True, repr=False)
class SinkhornResult(_ReadableRepr):
    """A solve: status ("converged", "max_iterations", "numerical_error"; cancellation raises), the
    potentials (f, g) in cost units (POT's log-domain potentials are f + reg log a, g + reg log b),
    the marginals of the plan and, on request, the dense plan."""
    status: str
    iterations: int
    total_iterations: int
    error_a: float
    error_b: float
    cost: float
    objective: float
    reg: float
    f: np.ndarray = field(repr=False)
    g: np.ndarray = field(repr=False)
    row_mass: np.ndarray = field(repr=False)
    col_mass: np.ndarray = field(repr=False)
    plan: Optional[np.ndarray] = field(repr=False, default=None)
    stored_kernel: bool = field(repr=False, default=False)
    newton_steps: int = field(repr=False, default=0)

    @property
    def converged(self) -> bool:
        return self.status == "converged"

    @property
    def potentials(self) -> Tuple[np.ndarray, np.ndarray]:
        """(f, g), usable as ``warm=`` of a later solve."""
        return self.f, self.g


def _opts(reg: float, max_iter: int, tol: float, rtol: float, reg_m_a: float, reg_m_b: float,
          eps_scaling: bool, eps_scaling_factor: float, eps_scaling_iterations: int,
          eps_start: float, storage: str, kernel_memory: int, overrelaxation: bool, newton: bool,
          compute_cost: bool) -> dict:
    return dict(reg=reg, max_iter=max_iter, tol=tol, rtol=rtol, reg_m_a=reg_m_a, reg_m_b=reg_m_b,
                eps_scaling=eps_scaling, eps_scaling_factor=eps_scaling_factor,
                eps_scaling_iterations=eps_scaling_iterations, eps_start=eps_start,
                storage=storage, kernel_memory=kernel_memory, overrelaxation=overrelaxation,
                newton=newton, compute_cost=compute_cost)


def sinkhorn(a: Any, b: Any, M: Any, reg: float, *, max_iter: int = 10000, tol: float = 1e-9,
             rtol: float = 0.0, reg_m_a: float = float("inf"), reg_m_b: float = float("inf"),
             eps_scaling: bool = True, eps_scaling_factor: float = 0.5,
             eps_scaling_iterations: int = 1, eps_start: float = 0.0, storage: str = "automatic",
             kernel_memory: int = 512 << 20, overrelaxation: bool = True, newton: bool = True,
             compute_cost: bool = True, warm: Optional[Tuple[Any, Any]] = None,
             plan: bool = True, max_plan_entries: int = 1 << 26, threads: int = 0,
             copy: bool = True,
             progress: Optional[Callable[[str, float], Optional[bool]]] = None) -> SinkhornResult:
    """Entropic OT between weights ``a`` (n) and ``b`` (m) for the dense cost ``M`` (n x m):
    min <P, M> + reg KL(P | a b^T), balanced unless reg_m_a / reg_m_b are finite (KL-relaxed
    marginals, POT's reg_m). ``a`` or ``b`` None = uniform. ``tol`` is on the L1 marginal error
    (POT's stopThr is on L2). The plan is returned in ``.plan`` unless plan=False. The GIL is
    released; Ctrl-C cancels."""
    d = _core.sinkhorn(a, b, M, reg, max_iter, tol, rtol, reg_m_a, reg_m_b, eps_scaling,
                       eps_scaling_factor, eps_scaling_iterations, eps_start, storage,
                       kernel_memory, overrelaxation, newton, compute_cost, warm, plan,
                       max_plan_entries, threads, copy, progress)
    return SinkhornResult(**d)


def sinkhorn_points(x: Any, y: Any, reg: float, a: Any = None, b: Any = None, *,
                    scale: float = 1.0, max_iter: int = 10000, tol: float = 1e-9,
                    rtol: float = 0.0, reg_m_a: float = float("inf"),
                    reg_m_b: float = float("inf"), eps_scaling: bool = True,
                    eps_scaling_factor: float = 0.5, eps_scaling_iterations: int = 1,
                    eps_start: float = 0.0, storage: str = "automatic",
                    kernel_memory: int = 512 << 20, overrelaxation: bool = True,
                    newton: bool = True, compute_cost: bool = True,
                    warm: Optional[Tuple[Any, Any]] = None, plan: bool = False,
                    max_plan_entries: int = 1 << 26, threads: int = 0, copy: bool = True,
                    progress: Optional[Callable[[str, float], Optional[bool]]] = None
                    ) -> SinkhornResult:
    """Sinkhorn between point clouds ``x`` (n x d) and ``y`` (m x d) with cost
    scale * ||x_i - y_j||^2, evaluated by the fused kernel (O(n + m) memory) or a stored kernel
    when it fits ``kernel_memory`` bytes. Same options as :func:`sinkhorn`."""
    d = _core.sinkhorn_points(x, y, a, b, scale, reg, max_iter, tol, rtol, reg_m_a, reg_m_b,
                              eps_scaling, eps_scaling_factor, eps_scaling_iterations, eps_start,
                              storage, kernel_memory, overrelaxation, newton, compute_cost, warm,
                              plan, max_plan_entries, threads, copy, progress)
    return SinkhornResult(**d)
