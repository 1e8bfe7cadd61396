#include <popalign/persona/dedup.hpp>
