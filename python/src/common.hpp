#pragma once
// What every binding file shares: NumPy views without copies, arrays handed back with a capsule
// that owns the C++ buffer, the GIL released around long computations with Ctrl-C turned into
// the library's cancellation token, and the mapping of popalign's exceptions to Python.
//
// Arrays in: a C-contiguous array of the wanted dtype is viewed in place (Eigen::Map over its
// buffer). Anything else (another dtype, a strided or Fortran-ordered array, a list) is
// converted once, unless the caller passed copy=False: then a ValueError names the argument,
// what it got and what it needs.
//
// Arrays out: the result vector/matrix is moved into a heap object owned by a capsule that
// becomes the array's base, so NumPy frees it when the last view goes; nothing is copied.
//
// Long calls: run_cancellable() runs the computation on a worker thread without the GIL; the
// calling thread waits in 20 ms slices without the GIL and, between slices, takes the GIL and
// calls PyErr_CheckSignals(). A pending Ctrl-C cancels the token, waits for the computation to
// stop at its next checkpoint and raises KeyboardInterrupt.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <popalign/core/error.hpp>
#include <popalign/core/execution.hpp>
#include <popalign/core/types.hpp>

namespace popalign::python {

namespace py = pybind11;

template <class T>
using CArray = py::array_t<T, py::array::c_style>;

/// A short description of what a Python object is, for error messages.
std::string describe_array(py::handle obj);

/// obj as a C-contiguous array of T (a view when it already is one). copy == false and a
/// conversion needed: ValueError naming `name`. ndim checked (1 or 2); 1-D given for a 2-D
/// argument is an error (a matrix is rows x traits).
template <class T>
CArray<T> as_array(py::handle obj, const char* name, bool copy, int ndim) {
  CArray<T> arr;
  if (py::isinstance<CArray<T>>(obj)) {
    arr = py::reinterpret_borrow<CArray<T>>(obj);
  } else {
    if (!copy)
      throw py::value_error(std::string(name) + ": copy=False but " + describe_array(obj) +
                            " needs a conversion; pass a C-contiguous " +
                            py::str(py::dtype::of<T>()).cast<std::string>() +
                            " array (numpy.ascontiguousarray(x, dtype=numpy." +
                            py::str(py::dtype::of<T>()).cast<std::string>() +
                            ")) or allow the copy");
    PyObject* p = CArray<T>::ensure(obj).release().ptr();
    if (!p) throw py::error_already_set();
    arr = py::reinterpret_steal<CArray<T>>(p);
  }
  if (arr.ndim() != ndim)
    throw py::value_error(std::string(name) + ": expected a " + std::to_string(ndim) +
                          "-D array, got " + std::to_string(arr.ndim()) + "-D" +
                          (ndim == 2 ? " (rows x traits; reshape(-1, 1) for one trait)" : ""));
  return arr;
}

/// A matrix argument: the array (keeps the buffer alive) and an Eigen view of it.
template <class T>
struct MatrixArg {
  CArray<T> array;
  Eigen::Map<const RowMatrix<T>> view{nullptr, 0, 0};
  MatrixArg(py::handle obj, const char* name, bool copy)
      : array(as_array<T>(obj, name, copy, 2)),
        view(array.data(), static_cast<Index>(array.shape(0)), static_cast<Index>(array.shape(1))) {
  }
};

/// An optional vector argument (None = empty, i.e. uniform weights).
struct VectorArg {
  CArray<double> array;
  std::optional<Eigen::Map<const Vector<double>>> view;
  Vector<double> empty;
  VectorArg(py::handle obj, const char* name, bool copy) {
    if (obj.is_none()) return;
    array = as_array<double>(obj, name, copy, 1);
    view.emplace(array.data(), static_cast<Index>(array.shape(0)));
  }
  Eigen::Ref<const Vector<double>> ref() const {
    if (view) return Eigen::Ref<const Vector<double>>(*view);
    return Eigen::Ref<const Vector<double>>(empty);
  }
};

/// Moves an Eigen vector or row-major matrix into a NumPy array that owns it (capsule).
template <class M>
py::array_t<typename std::decay_t<M>::Scalar> to_numpy(M&& m) {
  using Mat = std::decay_t<M>;
  using S = typename Mat::Scalar;
  auto* owned = new Mat(std::forward<M>(m));
  py::capsule owner(owned, [](void* p) { delete static_cast<Mat*>(p); });
  if constexpr (Mat::ColsAtCompileTime == 1) {
    return py::array_t<S>({static_cast<py::ssize_t>(owned->size())},
                          {static_cast<py::ssize_t>(sizeof(S))}, owned->data(), owner);
  } else {
    static_assert(Mat::IsRowMajor || Mat::RowsAtCompileTime == 1, "row-major matrices only");
    const auto r = static_cast<py::ssize_t>(owned->rows()),
               c = static_cast<py::ssize_t>(owned->cols());
    return py::array_t<S>(
        {r, c}, {c * static_cast<py::ssize_t>(sizeof(S)), static_cast<py::ssize_t>(sizeof(S))},
        owned->data(), owner);
  }
}

/// Moves a std::vector into a 1-D NumPy array that owns it.
template <class S>
py::array_t<S> to_numpy(std::vector<S>&& v) {
  auto* owned = new std::vector<S>(std::move(v));
  py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<S>*>(p); });
  return py::array_t<S>({static_cast<py::ssize_t>(owned->size())},
                        {static_cast<py::ssize_t>(sizeof(S))}, owned->data(), owner);
}

/// Runs f() on a worker thread without the GIL; Ctrl-C cancels `token` and raises
/// KeyboardInterrupt once f has stopped (see the file comment). f's exceptions propagate.
template <class F>
auto run_cancellable(CancellationToken token, F&& f) -> decltype(f()) {
  using R = decltype(f());
  std::optional<std::conditional_t<std::is_void_v<R>, int, R>> result;
  std::exception_ptr error;
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  bool interrupted = false;
  {
    py::gil_scoped_release nogil;
    std::thread worker([&] {
      try {
        if constexpr (std::is_void_v<R>) {
          f();
          result.emplace(0);
        } else {
          result.emplace(f());
        }
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex);
      done = true;
      cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(mutex);
    while (!done) {
      if (cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return done; })) break;
      if (interrupted) continue;
      lock.unlock();
      {
        py::gil_scoped_acquire gil;
        if (PyErr_CheckSignals() != 0) {
          interrupted = true;
          token.cancel();
        }
      }
      lock.lock();
    }
    lock.unlock();
    worker.join();
  }
  if (interrupted) {
    if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    throw py::error_already_set();
  }
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<R>) return std::move(*result);
}

/// Runs f() without the GIL on this thread (short computations without a cancellation point).
template <class F>
auto without_gil(F&& f) -> decltype(f()) {
  py::gil_scoped_release nogil;
  return f();
}

/// An Execution with `threads` and a fresh token; progress, when not None, is a Python
/// callable (stage: str, fraction: float) -> bool | None called with the GIL taken (True stops).
Execution make_execution(int threads, py::object progress);

// Registration of each part of the module (one file each).
void bind_errors(py::module_& m);
void bind_numeric(py::module_& m);
void bind_metrics(py::module_& m);
void bind_psychometrics(py::module_& m);
void bind_io(py::module_& m);
void bind_administer(py::module_& m);
void bind_embedding(py::module_& m);
void bind_exporters(py::module_& m);
void bind_pipeline(py::module_& m);

}  // namespace popalign::python
