"""align, sinkhorn, kde and the metrics, cross-checked against POT and SciPy on the same arrays."""
import numpy as np
import ot
import pytest
import scipy.stats

import popalign
from popalign import metrics

from conftest import persona_like


# ---- Sinkhorn against POT ------------------------------------------------------------------

def test_sinkhorn_plan_matches_pot(rng):
    n, m = 60, 45
    x, y = rng.normal(size=(n, 2)), rng.normal(size=(m, 2)) + 0.5
    a = rng.uniform(0.5, 1.5, n); a /= a.sum()
    b = rng.uniform(0.5, 1.5, m); b /= b.sum()
    M = ot.dist(x, y)
    reg = 0.1
    ref = ot.sinkhorn(a, b, M, reg, method="sinkhorn_log", numItermax=100000, stopThr=1e-13)
    res = popalign.sinkhorn(a, b, M, reg, tol=1e-12)
    assert res.converged, res
    np.testing.assert_allclose(res.plan, ref, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(res.plan.sum(axis=1), a, atol=1e-10)
    assert res.cost == pytest.approx(np.sum(ref * M), rel=1e-6)
    # POT's log-domain potentials are f + reg log a, g + reg log b (equal up to a constant shift)
    _, log = ot.sinkhorn(a, b, M, reg, method="sinkhorn_log", numItermax=100000,
                         stopThr=1e-13, log=True)
    u = log["log_u"] * reg
    f = res.f + reg * np.log(a)
    np.testing.assert_allclose(f - f.mean(), u - u.mean(), atol=1e-6)


def test_sinkhorn_unbalanced_matches_pot(rng):
    n, m = 40, 30
    x, y = rng.normal(size=(n, 2)), rng.normal(size=(m, 2))
    a = np.full(n, 1.0 / n)
    b = np.full(m, 1.5 / m)
    M = ot.dist(x, y)
    # POT's entropy is sum P log P: its plan equals ours for the cost M - reg (log a_i + log b_j)
    # (docs/ot.md; tests/data/make_ot_reference.py builds the C++ references the same way)
    Mp = M - 0.2 * (np.log(a)[:, None] + np.log(b)[None, :])
    ref = ot.unbalanced.sinkhorn_unbalanced(a, b, Mp, 0.2, 1.0, method="sinkhorn_stabilized",
                                            numItermax=100000, stopThr=1e-14)
    res = popalign.sinkhorn(a, b, M, 0.2, reg_m_a=1.0, reg_m_b=1.0, tol=1e-12)
    np.testing.assert_allclose(res.plan, ref, rtol=1e-5, atol=1e-10)


def test_sinkhorn_points_equals_dense_and_warm_start(rng):
    x, y = rng.normal(size=(80, 3)), rng.normal(size=(70, 3))
    dense = popalign.sinkhorn(None, None, ot.dist(x, y), 0.5, tol=1e-11)
    pts = popalign.sinkhorn_points(x, y, 0.5, tol=1e-11, plan=True)
    np.testing.assert_allclose(pts.plan, dense.plan, rtol=1e-7, atol=1e-14)
    warm = popalign.sinkhorn_points(x, y, 0.5, tol=1e-11, warm=pts.potentials)
    assert warm.iterations <= 2
    capped = popalign.sinkhorn(None, None, ot.dist(x, y), 0.5, max_iter=1, eps_scaling=False,
                               tol=1e-14)
    assert capped.status == "max_iterations"  # negative control: non-convergence is a status
    with pytest.raises(popalign.InvalidArgument, match="storage"):
        popalign.sinkhorn(None, None, ot.dist(x, y), 0.5, storage="disk")


# ---- KDE against SciPy ---------------------------------------------------------------------

@pytest.mark.parametrize("bw", [None, "silverman", 0.3])
def test_kde_matches_scipy(rng, bw):
    data = rng.normal(size=(400, 3))
    pts = rng.normal(size=(100, 3))
    w = rng.uniform(0.1, 1.0, 400)
    k = popalign.Kde(data, w, bandwidth=bw)
    ref = scipy.stats.gaussian_kde(data.T, bw_method=bw, weights=w)
    np.testing.assert_allclose(k.density(pts), ref(pts.T), rtol=1e-10)
    np.testing.assert_allclose(k.covariance, ref.covariance, rtol=1e-12)
    assert k.factor == pytest.approx(ref.factor)
    np.testing.assert_allclose(popalign.kde(data, pts, w, bw, log=True), ref.logpdf(pts.T),
                               rtol=1e-10)


# ---- metrics against SciPy / POT / NumPy ---------------------------------------------------

def test_univariate_metrics_match_scipy(rng):
    a, b = rng.normal(size=300), rng.normal(0.4, 1.3, size=200)
    wa, wb = rng.uniform(size=300), rng.uniform(size=200)
    assert metrics.wasserstein_1d(a, b, wa, wb) == pytest.approx(
        scipy.stats.wasserstein_distance(a, b, wa, wb), rel=1e-12)
    assert metrics.ks_1d(a, b) == pytest.approx(scipy.stats.ks_2samp(a, b).statistic, rel=1e-12)
    A, B = rng.normal(size=(300, 3)), rng.normal(0.2, 1.1, size=(200, 3))
    w = metrics.w1(A, B)
    for k in range(3):
        assert w[k] == pytest.approx(scipy.stats.wasserstein_distance(A[:, k], B[:, k]), rel=1e-12)
    assert metrics.energy_distance(a.reshape(-1, 1), b.reshape(-1, 1), wa, wb) == pytest.approx(
        scipy.stats.energy_distance(a, b, wa, wb), rel=1e-10)
    np.testing.assert_allclose(metrics.mean_gap(A, B), A.mean(0) - B.mean(0), atol=1e-12)
    np.testing.assert_allclose(metrics.sd_gap(A, B), A.std(0) - B.std(0), atol=1e-12)


def test_sliced_wasserstein_matches_pot_with_same_directions(rng):
    A, B = rng.normal(size=(300, 4)), rng.normal(0.3, 1.2, size=(250, 4))
    dirs = metrics.random_directions(50, 4, seed=3)
    ours = metrics.sliced_wasserstein(A, B, directions=dirs)
    ref = ot.sliced_wasserstein_distance(A, B, projections=dirs.T)
    assert ours == pytest.approx(ref, rel=1e-10)
    assert metrics.sliced_wasserstein(A, B, seed=3, n_projections=50) == pytest.approx(ours)


def test_mmd_and_correlation_match_direct_numpy(rng):
    A, B = rng.normal(size=(120, 3)), rng.normal(0.5, 1.0, size=(90, 3))
    sigma = 1.3
    k = lambda X, Y: np.exp(-ot.dist(X, Y) / (2 * sigma ** 2))
    ref = k(A, A).mean() + k(B, B).mean() - 2 * k(A, B).mean()
    r = metrics.mmd(A, B, bandwidth=sigma)
    assert r.mmd2_biased == pytest.approx(ref, rel=1e-10)
    assert r.mmd == pytest.approx(np.sqrt(ref), rel=1e-10)
    diff = np.corrcoef(A.T) - np.corrcoef(B.T)
    assert metrics.correlation_distance(A, B, normalized=False) == pytest.approx(
        np.linalg.norm(diff), rel=1e-10)
    assert metrics.correlation_distance(A, B) == pytest.approx(np.linalg.norm(diff) / np.sqrt(6))
    s = metrics.sinkhorn_divergence(A, B, reg=0.5)
    assert s.converged and s.divergence > 0
    assert metrics.sinkhorn_divergence(A, A, reg=0.5).divergence == pytest.approx(0, abs=1e-8)
    c = metrics.compare(A, B, traits=["x", "y", "z"], seed=1)
    np.testing.assert_allclose(c.w1, metrics.w1(A, B))
    assert c.traits == ["x", "y", "z"] and "x" in str(c)
    assert c.to_frame().shape == (3, 4)


# ---- align -----------------------------------------------------------------------------------

def test_align_improves_the_match_and_is_deterministic(rng):
    pool, ref = persona_like(rng, 3000, 2000)
    r1 = popalign.align(pool, ref, n=300, seed=5)
    r2 = popalign.align(pool, ref, n=300, seed=5)
    np.testing.assert_array_equal(r1.indices, r2.indices)
    assert r1.weights.tobytes() == r2.weights.tobytes()
    d = r1.diagnostics
    assert d.selected == 300 and len(np.unique(r1.indices)) == 300
    assert d.after.mean_w1 < 0.5 * d.before.mean_w1
    # the diagnostics agree with the metrics computed here
    sel = pool[r1.indices]
    np.testing.assert_allclose(d.after.w1, metrics.w1(sel, ref), rtol=1e-9)
    assert r1.weights.sum() == pytest.approx(1.0)
    assert "ot_status='converged'" in repr(d) and "mean W1" in d.summary()
    # negative control: a random selection does not improve the match
    rand = popalign.align(pool, ref, n=300, method="random", seed=5)
    assert rand.diagnostics.after.mean_w1 > 0.7 * d.before.mean_w1
    assert popalign.align(pool, ref, n=300, seed=6).indices.tolist() != r1.indices.tolist()


@pytest.mark.parametrize("method", ["resample", "is", "ot", "random"])
@pytest.mark.parametrize("output", ["distinct", "multiset", "weights"])
def test_align_every_method_and_output(rng, method, output):
    pool, ref = persona_like(rng, 600, 500)
    r = popalign.align(pool, ref, n=60, method=method, output=output, seed=1,
                       rounding="systematic", truncation="ionides", calibrate=False)
    assert r.diagnostics.method == ("is" if method == "is" else method)
    assert r.weights.shape == (600,) and r.weights.sum() == pytest.approx(1.0)
    if output == "weights":
        assert len(r.counts) == 0
    else:
        assert r.counts.sum() == 60
        if output == "distinct":
            assert (r.counts == 1).all()


def _corr_mae(a, b):
    iu = np.triu_indices(a.shape[1], 1)
    return np.abs(np.corrcoef(a, rowvar=False)[iu] - np.corrcoef(b, rowvar=False)[iu]).mean()


@pytest.mark.parametrize("calibration", ["marginal", "pairwise", "sliced"])
def test_align_refine_and_calibration_reach_the_library(rng, calibration):
    pool, ref = persona_like(rng, 3000, 2000)
    kw = dict(n=300, seed=4, calibration=calibration)
    swap = popalign.align(pool, ref, **kw)
    none = popalign.align(pool, ref, refine="none", **kw)
    d = swap.diagnostics
    assert d.refine_proposals == 50 * 300 and 0 < d.refine_swaps <= d.refine_proposals
    assert d.refine_after < d.refine_before and "swap refinement" in d.summary()
    assert np.isnan(none.diagnostics.refine_before) and none.diagnostics.refine_swaps == 0
    assert swap.indices.tolist() != none.indices.tolist()
    # the swaps bring the selection's correlations closer to the reference's (independent check)
    assert _corr_mae(pool[swap.indices], ref) < _corr_mae(pool[none.indices], ref)
    # zero proposals = no refinement (negative control of the option reaching the library)
    zero = popalign.align(pool, ref, refine_proposals=0, **kw)
    np.testing.assert_array_equal(zero.indices, none.indices)
    few = popalign.align(pool, ref, refine_proposals=2, refine_correlation_weight=0.0, **kw)
    assert few.diagnostics.refine_proposals == 600
    with pytest.raises(popalign.InvalidArgument, match="refine"):
        popalign.align(pool, ref, n=30, refine="magic")
    with pytest.raises(popalign.InvalidArgument, match="calibration"):
        popalign.align(pool, ref, n=30, calibration="magic")


def test_align_float32_runs_the_float_instantiation_without_copy(rng):
    pool, ref = persona_like(rng, 800, 600)
    p32, r32 = pool.astype(np.float32), ref.astype(np.float32)
    r = popalign.align(p32, r32, n=80, seed=2, copy=False)
    assert r.diagnostics.selected == 80


def test_align_dataframes_in_and_out(rng):
    pd = pytest.importorskip("pandas")
    pool, ref = persona_like(rng, 500, 400)
    cols = ["O", "C", "E"]
    pdf = pd.DataFrame(pool, columns=cols)
    pdf.insert(0, "id", [f"p{i}" for i in range(500)])
    pdf["note"] = "text column, ignored"
    rdf = pd.DataFrame(ref, columns=cols)
    r = popalign.align(pdf, rdf, n=50, seed=3)
    same = popalign.align(pool, ref, n=50, seed=3)
    np.testing.assert_array_equal(r.indices, same.indices)
    sel = r.selection
    assert list(sel["id"]) == r.selected_ids == [f"p{i}" for i in same.indices]
    assert {"count", "weight", "note"} <= set(sel.columns)
    assert "O" in r.diagnostics.summary()
    with pytest.raises(ValueError, match="no column"):
        popalign.align(pdf, rdf.rename(columns={"O": "X"}), n=5)


def test_align_errors_name_the_argument(rng):
    pool, ref = persona_like(rng, 100, 100)
    with pytest.raises(popalign.InvalidArgument) as e:
        popalign.align(pool, ref, n=1000)
    assert e.value.argument == "n" and isinstance(e.value, ValueError)
    with pytest.raises(popalign.InvalidArgument, match="reference"):
        popalign.align(pool, ref[:, :2], n=10)
    with pytest.raises(popalign.InvalidArgument, match="method"):
        popalign.align(pool, ref, n=10, method="magic")
    bad = pool.copy(); bad[3, 1] = np.nan
    with pytest.raises(popalign.InvalidArgument, match="NaN"):
        popalign.align(bad, ref, n=10)


def test_progress_callback_can_stop_align(rng):
    pool, ref = persona_like(rng, 2000, 1000)
    stages = []
    with pytest.raises(popalign.Cancelled):
        popalign.align(pool, ref, n=100, progress=lambda s, f: stages.append(s) or s == "transport")
    assert "density ratio" in stages
