#pragma once
// Checks of the CLI shared by several commands (docs/cli.md states the policy they implement).
// Header-only: the test builds of single commands compile main.cpp with their cmd_*.cpp only.
//
//   check_memory         a size argument whose arrays would not fit in memory is refused with
//                        the estimate, before anything is allocated
//   split_unique_list    "--traits E,A" -> {"E", "A"}; a name listed twice is refused
//   check_trait_table    the data faults that would otherwise surface as one opaque "singular
//                        covariance" deep in the density-ratio step, each with its own message
//                        naming the file, the column and (for a cell) the line
#include <fmt/format.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <popalign/core/error.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/io/limits.hpp>

namespace popalign::cli {

using io::physical_memory;  // io/limits.hpp

/// Refuses `flag` when `bytes` (the caller's estimate of what `value` makes it allocate) exceed
/// half of the physical memory: InvalidArgument naming the flag, the estimate and the memory.
inline void check_memory(const char* flag, long long value, double bytes, const std::string& hint) {
  const double memory = static_cast<double>(physical_memory());
  if (memory <= 0 || bytes <= memory / 2) return;
  throw InvalidArgument(
      flag, fmt::format("{} needs about {:.3g} GB of memory and this machine has "
                        "{:.3g} GB{}",
                        value, bytes / 1e9, memory / 1e9, hint.empty() ? "" : "; " + hint));
}

/// Splits a comma-separated list: items trimmed, empty items dropped.
inline std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, ',')) {
    const auto b = cur.find_first_not_of(" \t");
    const auto e = cur.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
  }
  return out;
}

/// split_list, then InvalidArgument naming `flag` when it lists nothing or lists a name twice.
inline std::vector<std::string> split_unique_list(const std::string& s, const char* flag) {
  std::vector<std::string> out = split_list(s);
  for (std::size_t i = 0; i < out.size(); ++i)
    check_argument(std::find(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(i), out[i]) ==
                       out.begin() + static_cast<std::ptrdiff_t>(i),
                   flag, fmt::format("lists '{}' twice", io::printable(out[i])));
  check_argument(!out.empty(), flag, "lists no column");
  return out;
}

/// Largest magnitude of a trait value: squares and sums of squares of larger values overflow
/// a double in the covariance and cost arithmetic.
inline constexpr double kMaxTraitMagnitude = 1e150;

/// Checks the trait columns of `t` (read from the file t.source) before a density-ratio or
/// transport step: IoError / ParseError naming the file, column and line for
///   - fewer than `min_rows` rows ("needs at least ..."),
///   - a cell larger in magnitude than kMaxTraitMagnitude,
///   - a constant column (its name and value),
///   - with `need_full_rank`: two columns that are copies or exact linear functions of each
///     other, or columns that are linearly dependent as a whole.
/// `what` names the role ("pool", "reference") in the messages.
inline void check_trait_table(const io::NumericTable& t, const std::string& what, Index min_rows,
                              bool need_full_rank) {
  const Index n = t.values.rows(), d = t.values.cols();
  if (n < min_rows)
    throw IoError(t.source,
                  fmt::format("the {} has {} data row{} for {} trait{}; this needs at "
                              "least {} rows (more rows than traits)",
                              what, n, n == 1 ? "" : "s", d, d == 1 ? "" : "s", min_rows));
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < d; ++j)
      if (!(std::abs(t.values(i, j)) <= kMaxTraitMagnitude))
        throw io::CsvError(
            t.source, t.lines[static_cast<std::size_t>(i)], 0, t.columns[j],
            fmt::format("column '{}': {} is too large for the arithmetic (trait "
                        "values must be below {:g} in magnitude; rescale the "
                        "column)",
                        t.columns[j], io::format_number(t.values(i, j)), kMaxTraitMagnitude));
  if (n == 0) return;
  for (Index j = 0; j < d; ++j) {
    const auto col = t.values.col(j);
    if (col.maxCoeff() == col.minCoeff())
      throw IoError(t.source, fmt::format("column '{}' is constant in the {} (every row is {}): a "
                                          "constant trait carries no information and cannot be "
                                          "standardised; leave it out of --traits",
                                          t.columns[j], what, io::format_number(col[0])));
  }
  if (!need_full_rank || d < 2) return;
  // Correlation matrix of the columns (standardised in long double-free two passes).
  Eigen::MatrixXd z = t.values.cast<double>();
  for (Index j = 0; j < d; ++j) {
    const double mean = z.col(j).mean();
    z.col(j).array() -= mean;
    const double sd = z.col(j).norm();
    z.col(j) /= sd;
  }
  const Eigen::MatrixXd corr = z.transpose() * z;
  for (Index a = 0; a < d; ++a)
    for (Index b = a + 1; b < d; ++b)
      if (std::abs(corr(a, b)) > 1 - 1e-9)
        throw IoError(t.source,
                      fmt::format("columns '{}' and '{}' of the {} are perfectly correlated "
                                  "(r = {:.6f}): one is a linear function of the other; leave one "
                                  "out of --traits",
                                  t.columns[a], t.columns[b], what, corr(a, b)));
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(corr, Eigen::EigenvaluesOnly);
  if (eig.info() == Eigen::Success && eig.eigenvalues().minCoeff() < 1e-10)
    throw IoError(t.source, fmt::format("the trait columns of the {} are linearly dependent (one "
                                        "is a linear combination of others, smallest eigenvalue "
                                        "of their correlation {:.2g}); leave one out of --traits",
                                        what, eig.eigenvalues().minCoeff()));
}

}  // namespace popalign::cli
