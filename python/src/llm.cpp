#include "common.hpp"
namespace popalign::python {
void bind_llm(py::module_&) {}
}
