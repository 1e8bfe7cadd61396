// popalign._core: the compiled half of the Python package. Each layer's bindings live in their
// own file (bind_*); this file registers them, the exception types and the shared helpers.
#include <pybind11/pybind11.h>

#include <popalign/version.hpp>

#include "common.hpp"

namespace popalign::python {

namespace {
PyObject* g_error = nullptr;
PyObject* g_invalid_argument = nullptr;
PyObject* g_io_error = nullptr;
PyObject* g_parse_error = nullptr;
PyObject* g_numerical_error = nullptr;
PyObject* g_cancelled = nullptr;
PyObject* g_backend_error = nullptr;

PyObject* new_exception(py::module_& m, const char* name, std::initializer_list<PyObject*> bases,
                        const char* doc) {
  py::tuple b(bases.size());
  std::size_t i = 0;
  for (PyObject* base : bases) b[i++] = py::reinterpret_borrow<py::object>(base);
  const std::string qualified = std::string("popalign._core.") + name;
  PyObject* e = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, b.ptr(), nullptr);
  if (!e) throw py::error_already_set();
  m.add_object(name, py::handle(e));
  return e;
}
}  // namespace

std::string describe_array(py::handle obj) {
  if (!py::isinstance<py::array>(obj))
    return std::string("a ") + py::str(py::type::of(obj).attr("__name__")).cast<std::string>();
  auto a = py::reinterpret_borrow<py::array>(obj);
  std::string layout = (a.flags() & py::array::c_style)   ? "C-contiguous"
                       : (a.flags() & py::array::f_style) ? "Fortran-ordered"
                                                          : "strided";
  return "a " + layout + " " + py::str(a.dtype()).cast<std::string>() + " array";
}

Execution make_execution(int threads, py::object progress) {
  Execution ex;
  ex.threads = threads;
  if (!progress.is_none()) {
    // The callable is kept alive by the std::function; it is released with the GIL taken.
    auto fn = std::shared_ptr<py::object>(new py::object(std::move(progress)), [](py::object* p) {
      py::gil_scoped_acquire gil;
      delete p;
    });
    CancellationToken token = ex.cancel;
    ex.progress = [fn, token](std::string_view stage, double fraction) mutable -> bool {
      py::gil_scoped_acquire gil;
      try {
        py::object r = (*fn)(std::string(stage), fraction);
        return !r.is_none() && r.cast<bool>();
      } catch (py::error_already_set& e) {
        // A failing callback stops the run; the error is reported as the cancellation reason.
        e.discard_as_unraisable("popalign progress callback");
        return true;
      }
    };
  }
  ex.validate();
  return ex;
}

void bind_errors(py::module_& m) {
  g_error = new_exception(m, "Error", {PyExc_Exception}, "Base of every error popalign raises.");
  g_invalid_argument = new_exception(m, "InvalidArgument", {g_error, PyExc_ValueError},
                                     "A bad argument; .argument names it.");
  g_io_error = new_exception(m, "IoError", {g_error, PyExc_OSError},
                             "A file problem; the message names the file and line.");
  g_parse_error = new_exception(m, "ParseError", {g_io_error}, "Malformed file content.");
  g_numerical_error = new_exception(m, "NumericalError", {g_error, PyExc_ArithmeticError},
                                    "A computation produced NaN or infinity where it must not.");
  g_cancelled = new_exception(m, "Cancelled", {g_error},
                              "A progress callback or cancellation stopped the run.");
  g_backend_error =
      new_exception(m, "BackendError", {g_error}, "An LLM or embedder backend failed.");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InvalidArgument& e) {
      py::object exc = py::reinterpret_borrow<py::object>(g_invalid_argument)(e.what());
      exc.attr("argument") = e.argument();
      PyErr_SetObject(g_invalid_argument, exc.ptr());
    } catch (const ParseError& e) {
      PyErr_SetString(g_parse_error, e.what());
    } catch (const IoError& e) {
      PyErr_SetString(g_io_error, e.what());
    } catch (const NumericalError& e) {
      PyErr_SetString(g_numerical_error, e.what());
    } catch (const Cancelled& e) {
      PyErr_SetString(g_cancelled, e.what());
    } catch (const BackendError& e) {
      PyErr_SetString(g_backend_error, e.what());
    } catch (const Error& e) {
      PyErr_SetString(g_error, e.what());
    }
  });
}

}  // namespace popalign::python

PYBIND11_MODULE(_core, m) {
  namespace pp = popalign::python;
  namespace py = pybind11;
  m.doc() = "popalign's compiled core (use the `popalign` package, which wraps it).";
  m.attr("__version__") = POPALIGN_VERSION_STRING;
  pp::bind_errors(m);
  pp::bind_numeric(m);
  pp::bind_metrics(m);
  pp::bind_io(m);
  pp::bind_psychometrics(m);
  pp::bind_administer(m);
  pp::bind_embedding(m);
  pp::bind_exporters(m);
  pp::bind_pipeline(m);

  // Test hooks for the zero-copy guarantees (tests/python/test_arrays.py).
  m.def(
      "_view_address",
      [](py::handle a, bool copy) {
        pp::MatrixArg<double> v(a, "array", copy);
        return reinterpret_cast<std::uintptr_t>(v.view.data());
      },
      py::arg("array"), py::arg("copy") = true);
  m.def("_owned_array", [](popalign::Index n) {
    popalign::Vector<double> v =
        popalign::Vector<double>::LinSpaced(n, 0.0, static_cast<double>(n - 1));
    const auto address = reinterpret_cast<std::uintptr_t>(v.data());
    return py::make_tuple(pp::to_numpy(std::move(v)), address);
  });
}
