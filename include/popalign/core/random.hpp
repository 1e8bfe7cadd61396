#pragma once
// Deterministic random numbers: the same seed gives the same bytes on every platform and
// compiler. std:: distributions are implementation-defined, so popalign has its own.
//
// Generator: xoshiro256** (Blackman & Vigna), seeded through SplitMix64.
// Distributions use only integer arithmetic and IEEE-exact operations, except normal() and
// exponential(), which call std::log / std::sqrt / std::cos (correctly rounded sqrt; log and cos
// are within 1 ulp on glibc, musl and MSVC alike; documented in docs/core.md).
#include <bit>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>
#include <string_view>
#include <utility>

#include <popalign/core/error.hpp>

namespace popalign {

/// 64-bit mixing function (SplitMix64 finaliser). Also used to hash strings into seeds.
constexpr std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// FNV-1a 64 of a string, for deriving seeds from names ("seed for stage X").
constexpr std::uint64_t hash_string(std::string_view s) noexcept {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

class Rng {
 public:
  using result_type = std::uint64_t;
  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return ~result_type{0}; }

  explicit Rng(std::uint64_t seed = 0) noexcept { reseed(seed); }

  void reseed(std::uint64_t seed) noexcept {
    std::uint64_t sm = seed;
    for (auto& w : s_) w = splitmix64(sm);
  }

  /// An independent generator for sub-task `stream` (e.g. a thread or a pipeline stage).
  Rng split(std::uint64_t stream) const noexcept {
    std::uint64_t sm = s_[0] ^ (stream * 0xD1B54A32D192ED03ULL) ^ s_[3];
    Rng out(splitmix64(sm));
    return out;
  }

  result_type operator()() noexcept { return next(); }

  result_type next() noexcept {
    const std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }

  /// Uniform double in [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform double in (0, 1]: safe to take the log of.
  double uniform_open0() noexcept { return (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53; }
  double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }

  /// Uniform integer in [0, n), unbiased (Lemire's multiply-and-reject). n must be > 0.
  std::uint64_t uniform_int(std::uint64_t n) {
    check_argument(n > 0, "n", "uniform_int needs n > 0");
    __uint128_t m = static_cast<__uint128_t>(next()) * n;
    auto low = static_cast<std::uint64_t>(m);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<__uint128_t>(next()) * n;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

  /// Standard normal by Box–Muller (both values used: the second is cached).
  double normal() noexcept {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = uniform_open0();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double a = 2.0 * std::numbers::pi * u2;
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
  }
  double normal(double mean, double sd) noexcept { return mean + sd * normal(); }

  /// Exponential with rate 1.
  double exponential() noexcept { return -std::log(uniform_open0()); }

  bool bernoulli(double p) noexcept { return uniform() < p; }

  /// Fisher–Yates shuffle of any random-access range.
  template <class Range>
  void shuffle(Range& range) {
    const auto n = static_cast<std::uint64_t>(std::size(range));
    for (std::uint64_t i = n; i > 1; --i) {
      const std::uint64_t j = uniform_int(i);
      using std::swap;
      swap(range[i - 1], range[j]);
    }
  }

 private:
  std::uint64_t s_[4]{};
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace popalign
