#pragma once
#include <popalign/core/error.hpp>
#include <popalign/core/execution.hpp>
#include <popalign/core/random.hpp>
#include <popalign/core/types.hpp>
#include <popalign/version.hpp>
