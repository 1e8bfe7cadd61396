// Near-duplicate personas by embedding cosine: see include/popalign/persona/dedup.hpp.
#include <popalign/persona/dedup.hpp>

#include <popalign/core/error.hpp>

namespace popalign::persona {

void PersonaDedupOptions::validate() const {
  check_argument(max_cosine > -1.0 && max_cosine <= 1.0, "max_cosine", "must be in (-1, 1]");
}

}  // namespace popalign::persona
