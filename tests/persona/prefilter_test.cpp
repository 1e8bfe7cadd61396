#include <popalign/persona/prefilter.hpp>
