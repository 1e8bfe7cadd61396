#include <popalign/persona/post_readers.hpp>
