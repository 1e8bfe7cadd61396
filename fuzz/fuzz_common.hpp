#pragma once
// Shared by the libFuzzer targets in fuzz/: every target feeds the input to one parser and
// treats popalign::Error (and its subclasses: ParseError, InvalidArgument, ...) as the expected
// answer to bad input. Anything else -- a crash, a sanitizer report, an uncaught exception that is
// not a popalign::Error, a timeout -- is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <popalign/core/error.hpp>

namespace popalign::fuzz {

/// The input as text.
inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Runs `f`, swallowing the errors popalign documents for bad input.
template <class F>
void expect_popalign_errors(F&& f) {
  try {
    f();
  } catch (const popalign::Error&) {
  }
}

}  // namespace popalign::fuzz
