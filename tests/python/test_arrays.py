"""NumPy in and out without copies; conversions once, or refused with copy=False."""
import numpy as np
import pytest

import popalign
from popalign import _core


def test_c_contiguous_float64_is_viewed_in_place(rng):
    a = rng.normal(size=(50, 4))
    assert _core._view_address(a, copy=False) == a.ctypes.data
    # a C-contiguous row block is still viewed in place
    block = a[10:20]
    assert _core._view_address(block, copy=False) == block.ctypes.data


def test_other_layouts_are_converted_or_refused(rng):
    a = rng.normal(size=(50, 4))
    f = np.asfortranarray(a)
    assert _core._view_address(f, copy=True) != f.ctypes.data  # converted once
    with pytest.raises(ValueError, match="Fortran-ordered float64 array needs a conversion"):
        _core._view_address(f, copy=False)
    with pytest.raises(ValueError, match="float32"):
        _core._view_address(a.astype(np.float32), copy=False)
    with pytest.raises(ValueError, match="strided"):
        _core._view_address(a[:, ::2], copy=False)
    with pytest.raises(ValueError, match="expected a 2-D array"):
        _core._view_address(a[:, 0], copy=True)
    # a list converts
    assert _core._view_address([[1.0, 2.0], [3.0, 4.0]]) != 0


def test_results_own_their_buffer_through_a_capsule():
    arr, address = _core._owned_array(1000)
    assert arr.ctypes.data == address  # the C++ buffer itself, not a copy
    assert not arr.flags.owndata
    assert type(arr.base).__name__ == "PyCapsule"
    np.testing.assert_array_equal(arr, np.arange(1000.0))
    view = arr[5:]
    del arr
    assert view[0] == 5.0  # the capsule lives as long as a view


def test_align_refuses_copies_when_asked(rng):
    pool = rng.normal(size=(200, 3))
    ref = rng.normal(size=(300, 3))
    res = popalign.align(pool, ref, n=20, copy=False)  # no conversion needed: accepted
    assert len(res.indices) == 20
    assert type(res.weights.base).__name__ == "PyCapsule"
    with pytest.raises(ValueError, match="pool: copy=False"):
        popalign.align(np.asfortranarray(pool), ref, n=20, copy=False)
    with pytest.raises(ValueError, match="reference: copy=False"):
        popalign.align(pool, ref.astype(np.float32), n=20, copy=False)
