#include "common.hpp"
namespace popalign::python {
void bind_embedding(py::module_&) {}
}
