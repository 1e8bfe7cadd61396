#pragma once
// SHA-256 (FIPS 180-4), private to the llm layer.
#include <array>
#include <cstdint>
#include <string_view>

namespace popalign::llm::detail {
std::array<std::uint8_t, 32> sha256(std::string_view bytes);
}  // namespace popalign::llm::detail
