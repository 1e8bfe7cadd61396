#!/usr/bin/python3
"""Writes the .npy fixtures read by tests/io/npy_test.cpp (run with numpy installed).

  c_f8.npy       2x3 float64, C order:        [[1, 2.5, -3], [4e-10, 5, 6]]
  fortran_f4.npy 2x3 float32, Fortran order:  [[1, 2, 3], [4, 5, 6.5]]
  vec_f8.npy     1-D float64 of 4:            [0.1, 0.2, 0.3, 0.4]
  int_i8.npy     1-D int64 (unsupported dtype, for the error test)
"""
import numpy as np

np.save("c_f8.npy", np.array([[1, 2.5, -3], [4e-10, 5, 6]], dtype="<f8"))
np.save("fortran_f4.npy", np.asfortranarray(np.array([[1, 2, 3], [4, 5, 6.5]], dtype="<f4")))
np.save("vec_f8.npy", np.array([0.1, 0.2, 0.3, 0.4], dtype="<f8"))
np.save("int_i8.npy", np.arange(3, dtype="<i8"))
