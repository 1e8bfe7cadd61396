#pragma once
// Step 3 of persona mining: post quality, judged by an LLM.
//
// Each post is shown to the model (template "post-quality-v1", placeholder {post}; the post's
// text white-space-collapsed and cut at max_post_chars) and the model answers
//   {"quality": "high" | "medium" | "low", "harmful": true | false}
// under a JSON Schema (servers with structured output enforce it). high = concrete events,
// social behaviour or thoughts of a person; low = ads, reposts, fiction, random text. The answer
// is read leniently: the first JSON object in the text (Markdown fences and chatter around it
// are ignored); "quality" case-insensitive; "harmful" a boolean, or "yes"/"no"/"true"/"false".
// An answer without both is off-schema and asked again with seed + 1 (up to max_attempts asks);
// after the last it is dropped as "off-schema answer".
//
// A post is kept when its quality is at least min_quality (default high, the method's rule) and
// it is not harmful (unless keep_harmful). Drop reasons: "medium quality", "low quality",
// "harmful", "off-schema answer", "call failed" (after the backend's own retries).
//
// Requests are deterministic (same post, options and attempt -> same bytes), so a
// llm::CachedBackend in front of the backend makes a rerun free for every finished call.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/llm/backend.hpp>
#include <popalign/persona/post.hpp>
#include <popalign/persona/prompts.hpp>
#include <popalign/persona/step_calls.hpp>

namespace popalign::persona {

enum class Quality { low = 0, medium = 1, high = 2 };
std::string_view to_string(Quality q) noexcept;
/// "high", "medium", "low" (case-insensitive); InvalidArgument("quality") otherwise.
Quality quality_from_string(std::string_view s);

/// The model's verdict on one post.
struct PostVerdict {
  Quality quality = Quality::low;
  bool harmful = false;
  friend bool operator==(const PostVerdict&, const PostVerdict&) = default;
};

struct PostQualityOptions {
  std::string model;                    ///< empty = the backend's default model
  double temperature = 0.0;             ///< [0, 2]; a classification: greedy by default
  int max_tokens = 32;                  ///< per answer, >= 8
  std::uint64_t seed = 0;               ///< request seed of the first ask; ask a uses seed + a
  int max_attempts = 2;                 ///< asks per post while the answer is off-schema, >= 1
  bool json_schema = true;              ///< send the JSON Schema (structured output)
  std::size_t max_post_chars = 6000;    ///< longer posts are cut (UTF-8 safe), >= 100
  Quality min_quality = Quality::high;  ///< kept: quality >= this
  bool keep_harmful = false;            ///< keep harmful posts too
  PromptTemplate prompt = builtin_prompt("post-quality-v1");  ///< placeholders {post}
  /// Chunking, progress and cancellation of the calls.
  llm::BatchOptions batch;
  /// InvalidArgument naming the field.
  void validate() const;
};

/// The request for one post and attempt (0-based). Deterministic.
llm::Request post_quality_request(const Post& post, const PostQualityOptions& options,
                                  int attempt = 0);
/// The JSON Schema the answers follow.
std::string post_quality_schema();
/// Parses one answer (rules at the top); nullopt when it is off-schema.
std::optional<PostVerdict> parse_post_quality(std::string_view answer);
/// "" when the verdict keeps the post under the options, else the drop reason.
std::string post_drop_reason(const PostVerdict& verdict, const PostQualityOptions& options);

/// What happened to one post.
struct PostAssessment {
  std::optional<PostVerdict> verdict;  ///< the model's usable answer, if any
  bool kept = false;
  bool finished = true;  ///< false: its call was cancelled (ask again later)
  std::string reason;    ///< drop reason ("" when kept)
  std::string detail;    ///< e.g. the off-schema answer's problem or the failure message
  int attempts = 0;      ///< calls made
};

struct PostQualityResult {
  std::vector<PostAssessment> assessments;  ///< one per post, in input order
  std::size_t kept = 0;
  StepCalls report;
};

/// Asks the model about every post. InvalidArgument for bad options; BackendError when every
/// call failed (an unusable server).
PostQualityResult assess_posts(llm::LlmBackend& backend, std::span<const Post> posts,
                               const PostQualityOptions& options = {});

}  // namespace popalign::persona
