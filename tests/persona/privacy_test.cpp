#include <popalign/persona/privacy.hpp>
