#pragma once
// Everything of the llm layer: backends, decorators and the OpenAI-compatible HTTP client.
#include <popalign/llm/backend.hpp>
#include <popalign/llm/batch_api.hpp>
#include <popalign/llm/cache.hpp>
#include <popalign/llm/fleet.hpp>
#include <popalign/llm/openai_client.hpp>
#include <popalign/llm/rate_limit.hpp>
#include <popalign/llm/record_replay.hpp>
#include <popalign/llm/retry.hpp>
#include <popalign/llm/types.hpp>
#include <popalign/llm/usage_meter.hpp>
