#pragma once
// Loads the POT reference cases written by tests/data/make_ot_reference.py.
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include <popalign/core/types.hpp>

namespace popalign::ot::testing {

inline nlohmann::json load_case(const std::string& name) {
  const std::string path = std::string(POPALIGN_TEST_DATA_DIR) + "/ot/" + name + ".json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

template <class T>
RowMatrix<T> matrix(const nlohmann::json& j) {
  const auto rows = static_cast<Index>(j.size());
  const auto cols = rows > 0 ? static_cast<Index>(j[0].size()) : 0;
  RowMatrix<T> out(rows, cols);
  for (Index i = 0; i < rows; ++i)
    for (Index k = 0; k < cols; ++k) out(i, k) = static_cast<T>(j[i][k].get<double>());
  return out;
}

inline Vector<double> vector(const nlohmann::json& j) {
  Vector<double> out(static_cast<Index>(j.size()));
  for (Index i = 0; i < out.size(); ++i) out[i] = j[i].get<double>();
  return out;
}

}  // namespace popalign::ot::testing
