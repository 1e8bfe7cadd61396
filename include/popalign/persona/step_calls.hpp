#pragma once
// The call counters every LLM step of persona mining reports (post quality, persona writing,
// critique).
#include <cstddef>
#include <string>
#include <vector>

namespace popalign::persona {

/// Counters shared by the LLM steps' reports.
struct StepCalls {
  std::string status = "ok";          ///< "ok" or "cancelled"
  std::size_t calls = 0;              ///< requests answered or failed (every attempt)
  std::size_t cached_calls = 0;       ///< answered from a cache
  std::size_t failed_calls = 0;       ///< failures after the backend's own retries
  std::size_t reasks = 0;             ///< calls beyond each unit's first
  std::vector<std::string> messages;  ///< the first problems (at most 20)
};

}  // namespace popalign::persona
