#pragma once
// Step 4 of persona mining: persona writing by an LLM.
//
// Windows. The kept posts are grouped by author (authors in id order, author_before) and put in
// time order (time_before, persona/post_readers.hpp). An author with
// fewer than min_posts kept posts is dropped ("fewer than 6 posts"). A history is split into time
// windows that fit the model's context: the prompt budget for posts is
//   context_tokens - max_tokens - tokens(the template rendered without posts)
// with tokens estimated as ceil(bytes / chars_per_token) (4 by default); posts (each rendered "[k]
// (time) text") are added to a window in time order until the next one would not fit, then a new
// window starts. A single post larger than the whole budget is cut to fit. When the last window of
// an author ends up with fewer than min_posts posts, the history is split evenly into as many
// windows (sizes differing by at most one) if those fit the budget and hold min_posts each;
// otherwise posts move to the last window from the end of the one before while that one keeps
// min_posts, and a window still too short is dropped ("window with fewer than 6 posts"). One author
// can thus yield several personas, each with its own window. The default context_tokens = 8192
// (~32k characters, the input cap of the method's sibling code) fits every author of typical blog
// corpora into one or a few windows and every 8k-context model.
//
// Writing. For each window the model gets template "persona-writer-v1" (placeholders {posts},
// {max_words}) and answers, under a JSON Schema,
//   {"status": "ok", "persona": "<third-person narrative>"}  or  {"status": "cannot", ...}
// The answer is read leniently: the first JSON object in the text; without one, a plain-text
// answer starting with "cannot", "I cannot", "I can't", "NULL" or "none" is a refusal, and other
// prose (>= 5 words, >= 80% letters) is taken as the persona. A refusal is final: dropped as
// "cannot" (detail: what the model said). An answer longer than max_words words ("too long") or
// unusable ("off-schema answer") is asked again with seed + 1, up to max_attempts asks, then
// dropped with that reason. A failed call is dropped as "call failed". Each draft keeps the ids
// of its window's posts.
//
// Requests are deterministic, so a llm::CachedBackend makes reruns free for finished calls.
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

struct PersonaWriterOptions {
  std::string model;                  ///< empty = the backend's default model
  double temperature = 0.3;           ///< [0, 2] (the method's sibling code writes at 0.3)
  int max_tokens = 400;               ///< per answer, >= 32
  std::uint64_t seed = 0;             ///< request seed of the first ask; ask a uses seed + a
  int max_attempts = 2;               ///< asks per window while the answer is unusable, >= 1
  bool json_schema = true;            ///< send the JSON Schema (structured output)
  int max_words = 150;                ///< longest persona, in words, >= 10
  std::size_t min_posts = 6;          ///< fewest kept posts per author and per window, >= 1
  std::size_t context_tokens = 8192;  ///< the model's context window, tokens
  /// Bytes per token in the budget estimate: 4 for English text with the BPE vocabularies of
  /// current models (GPT, Llama, Qwen); smaller for models with small vocabularies. In [0.5, 16].
  double chars_per_token = 4.0;
  PromptTemplate prompt = builtin_prompt("persona-writer-v1");  ///< {posts}, {max_words}
  llm::BatchOptions batch;  ///< chunking, progress and cancellation of the calls
  /// InvalidArgument naming the field (context_tokens when the budget for posts is < 256).
  void validate() const;
  /// Tokens left for the posts in one request (see the file comment).
  std::size_t post_budget_tokens() const;
};

/// One author's window of posts: the unit of persona writing.
struct AuthorWindow {
  std::string author;
  std::size_t window = 0;   ///< 0-based position among the author's windows
  std::size_t windows = 1;  ///< the author's windows
  std::vector<Post> posts;  ///< in time order (a post cut to fit has its text cut)
  /// "<author>#<window + 1>": the id of the persona written from this window.
  std::string id() const;
};

/// An author or a window that yields no persona before any call.
struct DroppedAuthor {
  std::string author;  ///< the author, or the window id for a short window
  std::size_t posts = 0;
  std::string reason;  ///< "fewer than N posts", "window with fewer than N posts"
};

struct Windowing {
  std::vector<AuthorWindow> windows;  ///< authors in id order, windows in time order
  std::vector<DroppedAuthor> dropped;
  std::size_t authors = 0;    ///< distinct authors given
  std::size_t cut_posts = 0;  ///< posts cut to fit the budget
};

/// Groups and splits posts into windows (see the file comment).
Windowing make_windows(std::span<const Post> posts, const PersonaWriterOptions& options = {});

/// The request for one window and attempt (0-based). Deterministic.
llm::Request persona_request(const AuthorWindow& window, const PersonaWriterOptions& options,
                             int attempt = 0);
std::string persona_schema(const PersonaWriterOptions& options);

/// One answer, read (see the file comment).
struct ParsedPersona {
  enum class Kind { ok, cannot, too_long, off_schema } kind = Kind::off_schema;
  std::string text;    ///< the persona (ok, too_long), white space collapsed
  std::string detail;  ///< what was wrong, or what the model said when it refused
};
ParsedPersona parse_persona(std::string_view answer, const PersonaWriterOptions& options);

/// The persona written for one window, or why none was.
struct PersonaDraft {
  std::string id;  ///< AuthorWindow::id()
  std::string author;
  std::size_t window = 0, windows = 1;
  std::vector<std::string> post_ids;  ///< the window's posts, time order
  std::string first_time, last_time;  ///< the window's time span ("" when undated)
  std::string text;                   ///< the persona (when kept)
  bool kept = false;
  bool finished = true;  ///< false: its call was cancelled
  std::string reason;    ///< "cannot", "too long", "off-schema answer", "call failed", "cancelled"
  std::string detail;
  int attempts = 0;
};

struct PersonaWritingResult {
  std::vector<PersonaDraft> drafts;  ///< one per window, in input order
  std::size_t kept = 0;
  StepCalls report;
};

/// The draft's identity (id, author, window, post ids, time span) without text.
PersonaDraft draft_for(const AuthorWindow& window);

/// Asks the model to write a persona for every window. BackendError when every call failed.
PersonaWritingResult draft_personas(llm::LlmBackend& backend, std::span<const AuthorWindow> windows,
                                    const PersonaWriterOptions& options = {});

}  // namespace popalign::persona
