// A user's program built against the installed popalign package.
#include <cstdio>
#include <popalign/core.hpp>
#include <string>


int main() {
  popalign::Rng rng(42);
  popalign::RowMatrix<double> x(3, 2);
  for (popalign::Index i = 0; i < x.size(); ++i) x.data()[i] = rng.normal();
  std::printf("popalign %s, x(0,0)=%.6f\n", popalign::version_string, x(0, 0));
  return popalign::version_major == 0 ? 0 : 1;
}
