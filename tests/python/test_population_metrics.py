"""The five population metrics from Python, cross-checked against SciPy / NumPy on the same arrays
(scipy.linalg.sqrtm for Fréchet, a brute-force O(n^2) NumPy MMD, np.corrcoef for the correlation
MAE), with negative controls."""
import numpy as np
import pytest
import scipy.linalg
import scipy.stats

import popalign
from popalign import metrics

from conftest import persona_like


def np_frechet(x, y, wx=None, wy=None):
    wx = np.ones(len(x)) if wx is None else wx
    wy = np.ones(len(y)) if wy is None else wy
    ma, mb = np.average(x, axis=0, weights=wx), np.average(y, axis=0, weights=wy)
    sa = np.cov(x, rowvar=False, aweights=wx, bias=True)
    sb = np.cov(y, rowvar=False, aweights=wy, bias=True)
    return float(((ma - mb) ** 2).sum() + np.trace(sa + sb)
                 - 2 * np.trace(scipy.linalg.sqrtm(sa @ sb)).real)


def np_mmd2(x, y, sigma, unbiased):
    def k(p, q):
        return np.exp(-((p[:, None, :] - q[None, :, :]) ** 2).sum(-1) / (2 * sigma ** 2))
    kxx, kyy, kxy = k(x, x), k(y, y), k(y, x)
    n, m = len(x), len(y)
    if unbiased:
        return ((kxx.sum() - n) / (n * (n - 1)) + (kyy.sum() - m) / (m * (m - 1))
                - 2 * kxy.mean())
    return kxx.mean() + kyy.mean() - 2 * kxy.mean()


def test_frechet_matches_scipy_sqrtm(rng):
    x = rng.multivariate_normal([0, 1, 0], [[1, .5, 0], [.5, 2, .3], [0, .3, .5]], 200)
    y = rng.multivariate_normal([.2, 0, 0], [[2, -.4, 0], [-.4, 1, 0], [0, 0, 1]], 150)
    wx, wy = rng.uniform(.5, 2, 200), rng.uniform(.5, 2, 150)
    assert popalign.frechet(x, y) == pytest.approx(np_frechet(x, y), rel=1e-9)
    assert popalign.frechet(x, y, wx, wy) == pytest.approx(np_frechet(x, y, wx, wy), rel=1e-9)
    # negative control: itself 0, a shifted copy exactly ||shift||^2
    assert popalign.frechet(x, x) == pytest.approx(0, abs=1e-10)
    assert popalign.frechet(x, x + [1.0, 0, -2.0]) == pytest.approx(5.0, rel=1e-9)
    # singular covariance (a duplicated trait): finite and >= 0
    xs = np.column_stack([x[:, 0], x[:, 0], x[:, 1]])
    assert np.isfinite(popalign.frechet(xs, y)) and popalign.frechet(xs, y) >= 0


def test_mmd2_unbiased_and_biased_match_brute_force(rng):
    x, y = rng.normal(size=(80, 3)), rng.normal(0.4, 1.0, size=(60, 3))
    sigma = 1.7
    assert popalign.mmd2(x, y, bandwidth=sigma) == pytest.approx(
        np_mmd2(x, y, sigma, True), rel=1e-10)
    assert popalign.mmd2(x, y, bandwidth=sigma, unbiased=False) == pytest.approx(
        np_mmd2(x, y, sigma, False), rel=1e-10)
    # negative control: two samples of one distribution -> unbiased ~ 0, biased clearly > 0
    a, b = rng.normal(size=(300, 3)), rng.normal(size=(300, 3))
    assert abs(popalign.mmd2(a, b)) < 0.01
    assert popalign.mmd2(a, b, unbiased=False) > popalign.mmd2(a, b)


def test_correlation_mae_matches_corrcoef(rng):
    x, y = rng.normal(size=(100, 4)), rng.normal(size=(90, 4))
    y[:, 1] += y[:, 0]
    d = np.abs(np.corrcoef(x.T) - np.corrcoef(y.T))[np.triu_indices(4, 1)]
    assert popalign.correlation_mae(x, y) == pytest.approx(d.mean(), rel=1e-10)
    assert popalign.correlation_mae(x, x) == 0.0


def test_population_metrics_are_reference_standardised(rng):
    pool, ref = persona_like(rng, 400, 300)
    ref = ref * [2.0, 10.0, 0.5] + [3.0, 50.0, 0.0]
    pool = pool * [2.0, 10.0, 0.5] + [3.0, 50.0, 0.0]
    p = popalign.population_metrics(pool, ref, seed=3)
    mu, sd = ref.mean(0), ref.std(0)
    za, zb = (pool - mu) / sd, (ref - mu) / sd
    w1 = np.mean([scipy.stats.wasserstein_distance(za[:, k], zb[:, k]) for k in range(3)])
    assert p.mean_w1 == pytest.approx(w1, rel=1e-10)
    assert p.frechet == pytest.approx(np_frechet(za, zb), rel=1e-8)
    assert p.mmd2 == pytest.approx(np_mmd2(za, zb, p.mmd_bandwidth, True), rel=1e-8)
    assert p.sliced_wasserstein == pytest.approx(
        metrics.sliced_wasserstein(za, zb, seed=3), rel=1e-10)
    assert p.correlation_mae == pytest.approx(popalign.correlation_mae(pool, ref), rel=1e-10)
    # compare() carries the same block; skipped metrics are NaN
    c = popalign.compare(pool, ref, seed=3)
    assert c.population.frechet == pytest.approx(p.frechet, rel=1e-12)
    assert c.correlation_mae == pytest.approx(p.correlation_mae, rel=1e-10)
    q = popalign.population_metrics(pool, ref, mmd=False, sliced=False)
    assert np.isnan(q.mmd2) and np.isnan(q.sliced_wasserstein) and not np.isnan(q.frechet)
    assert "frechet=" in repr(p)
    with pytest.raises(popalign.InvalidArgument, match="mmd_max_points"):
        popalign.population_metrics(pool, ref, mmd_max_points=1)


def test_align_diagnostics_carry_the_five(rng):
    pool, ref = persona_like(rng, 2000, 1000)
    d = popalign.align(pool, ref, n=200, seed=2).diagnostics
    for c in (d.before, d.after):
        assert isinstance(c.population, popalign.PopulationMetrics)
    b, a = d.before.population, d.after.population
    assert a.mean_w1 < b.mean_w1 and a.frechet < b.frechet and a.mmd2 < b.mmd2
    assert b.frechet == pytest.approx(popalign.population_metrics(pool, ref).frechet, rel=1e-9)
