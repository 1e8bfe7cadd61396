"""Gaussian kernel density estimation, exact (SciPy gaussian_kde's conventions)."""
from __future__ import annotations

from typing import Any, List, Optional, Union

import numpy as np

from . import _core

__all__ = ["Kde", "kde"]

Bandwidth = Union[str, float, None]


class Kde:
    """An exact Gaussian KDE over ``data`` (n x d) with optional ``weights``. ``bandwidth`` is
    "scott" (default), "silverman" or a factor f (kernel covariance f^2 * data covariance, as
    SciPy's scalar bw_method). Data are given as rows (SciPy takes them as columns)."""

    def __init__(self, data: Any, weights: Any = None, bandwidth: Bandwidth = None, *,
                 threads: int = 0, copy: bool = True) -> None:
        self._k = _core.Kde(data, weights, bandwidth, threads, copy)

    def log_density(self, points: Any, *, copy: bool = True) -> np.ndarray:
        """log p(x) for every row of ``points`` (-inf far from every kernel)."""
        return self._k.log_density(points, copy)

    def density(self, points: Any, *, copy: bool = True) -> np.ndarray:
        return np.exp(self.log_density(points, copy=copy))

    __call__ = density

    @property
    def factor(self) -> float:
        return self._k.factor

    @property
    def covariance(self) -> np.ndarray:
        """The kernel covariance H (SciPy's ``covariance``)."""
        return self._k.covariance

    @property
    def effective_n(self) -> float:
        return self._k.effective_n

    @property
    def warnings(self) -> List[str]:
        return self._k.warnings

    def __repr__(self) -> str:
        return f"Kde(n={self._k.size}, d={self._k.dim}, factor={self._k.factor:.4g})"


def kde(data: Any, points: Any = None, weights: Any = None, bandwidth: Bandwidth = None, *,
        log: bool = False, threads: int = 0, copy: bool = True) -> np.ndarray:
    """Density (or log density with log=True) of the KDE of ``data`` at ``points`` (default:
    at the data themselves)."""
    k = Kde(data, weights, bandwidth, threads=threads, copy=copy)
    lp = k.log_density(data if points is None else points, copy=copy)
    return lp if log else np.exp(lp)
