#pragma once
// Reader for the small reference files written by tests/data/make_*_reference.py:
//   # comment
//   array <name> <rows> <cols>      followed by <rows> lines of <cols> numbers
//   scalar <name> <value>
// Shared by the density, sampling and metrics tests.
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

#include <popalign/core/types.hpp>

namespace popalign::testing {

class ReferenceFile {
 public:
  explicit ReferenceFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(path + ": cannot open reference file");
    std::string line;
    std::size_t lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (line.empty() || line[0] == '#') continue;
      std::istringstream ss(line);
      std::string kind, name;
      ss >> kind >> name;
      if (kind == "scalar") {
        double v;
        if (!(ss >> v))
          throw std::runtime_error(path + ":" + std::to_string(lineno) + ": " + "bad scalar");
        scalars_[name] = v;
      } else if (kind == "array") {
        Index r, c;
        if (!(ss >> r >> c))
          throw std::runtime_error(path + ":" + std::to_string(lineno) + ": " + "bad array header");
        RowMatrix<double> m(r, c);
        for (Index i = 0; i < r; ++i) {
          if (!std::getline(in, line))
            throw std::runtime_error(path + ":" + std::to_string(lineno) + ": " +
                                     "truncated array");
          ++lineno;
          std::istringstream rs(line);
          for (Index j = 0; j < c; ++j)
            if (!(rs >> m(i, j)))
              throw std::runtime_error(path + ":" + std::to_string(lineno) + ": " + "bad number");
        }
        arrays_[name] = std::move(m);
      } else {
        throw std::runtime_error(path + ":" + std::to_string(lineno) + ": unknown record " + kind);
      }
    }
  }
  const RowMatrix<double>& array(const std::string& name) const {
    auto it = arrays_.find(name);
    if (it == arrays_.end()) throw std::out_of_range("no array " + name);
    return it->second;
  }
  Vector<double> vector(const std::string& name) const {
    const auto& a = array(name);
    return Eigen::Map<const Vector<double>>(a.data(), a.size());
  }
  double scalar(const std::string& name) const {
    auto it = scalars_.find(name);
    if (it == scalars_.end()) throw std::out_of_range("no scalar " + name);
    return it->second;
  }

 private:
  std::map<std::string, RowMatrix<double>> arrays_;
  std::map<std::string, double> scalars_;
};

}  // namespace popalign::testing
