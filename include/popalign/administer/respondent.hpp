#pragma once
// GradedResponseRespondent: a TEST DOUBLE of an LLM. It is an llm::LlmBackend that answers
// questionnaire prompts like a respondent with known latent traits, under Samejima's graded
// response model (GRM), so that tests (and users checking a pipeline) can show that
// administer -> score recovers the traits that generated the answers. It is not a model of how
// LLMs answer.
//
// GRM: for an item with discrimination a, ordered thresholds b_1 < ... < b_{K-1} and key s (+1 /
// -1), a respondent with trait theta answers category k (0-based, instrument value min + k) with
//   P(X >= k) = 1 / (1 + exp(-a (s theta - b_k)))   for k = 1..K-1,  P(X >= 0) = 1,
//   P(X = k)  = P(X >= k) - P(X >= k+1).
//
// Reading a request, like a respondent reading the prompt:
//  - the persona: the registered persona whose text occurs in the system message (else in any
//    message; the longest such text wins); an unknown persona is a Failure{bad_request};
//  - the item(s): the instrument items whose text occurs in the last user message; one item per
//    call unless the request carries a json_schema (batch: every item found is answered);
//  - the scale direction: reversed when the label of the highest option occurs before the label
//    of the lowest one in the user message (the double then answers with presented numbers, so
//    the administrator's mapping back is exercised).
// Answers:
//  - logprobs requested: text = the most likely presented number; logprobs[0].top = every
//    option token "1".."K" (presented numbering) with its log-probability, most likely first,
//    scaled by (1 - other_mass) plus one non-option token carrying other_mass, so option mass
//    and renormalisation are exercised;
//  - json_schema: a JSON object {item_id: presented number} with categories sampled from the
//    GRM; `batch_drop_rate` leaves items out (the administrator must ask them again);
//  - otherwise one sampled category written in `style` (digits, labels, number words, a chatty
//    sentence, or a mix), or with probability `nonsense_rate` a text without any rating.
// Sampling is seeded by (options.seed, Request::seed, persona, item): the same request always
// gets the same answer, as from a cached real model. Thread-safe; counts calls per persona.
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/llm/backend.hpp>
#include <popalign/psychometrics/instrument.hpp>

namespace popalign::administer {

/// GRM parameters of one item.
struct GrmItem {
  double discrimination = 1.5;
  std::vector<double> thresholds;  ///< K - 1 strictly increasing values
};

enum class AnswerStyle { digit, label, number_word, chatty, mixed };

struct GradedResponseOptions {
  std::uint64_t seed = 0;
  AnswerStyle style = AnswerStyle::mixed;
  /// Probability that a generate-mode answer contains no rating at all.
  double nonsense_rate = 0.0;
  /// Probability that an item is left out of a batch answer.
  double batch_drop_rate = 0.0;
  /// Probability mass given to a non-option token in logprobs answers, in [0, 1).
  double other_mass = 0.1;
  void validate() const;
};

class GradedResponseRespondent final : public llm::LlmBackend {
 public:
  /// items: one GrmItem per instrument item (same order), each with num_options - 1 thresholds.
  GradedResponseRespondent(psychometrics::Instrument instrument, std::vector<GrmItem> items,
                           GradedResponseOptions options = {});

  /// Plausible random GRM parameters: a ~ U(1.5, 2.5); thresholds evenly spread over
  /// [-1.5, 1.5], shifted per item by U(-0.4, 0.4).
  static std::vector<GrmItem> random_items(const psychometrics::Instrument& instrument,
                                           std::uint64_t seed);

  /// Registers a respondent: its id, the persona text that will appear in prompts, and one
  /// latent trait value per instrument trait (instrument.traits order).
  void add_persona(std::string id, std::string text, std::vector<double> theta);

  std::vector<llm::Outcome> complete(std::span<const llm::Request> batch) override;
  std::string name() const override { return "graded-response-respondent"; }
  std::string default_model() const override { return "grm-test-double"; }

  /// Category probabilities (instrument order, min first) of persona `id` on item `item`.
  std::vector<double> category_probabilities(std::string_view id, std::size_t item) const;
  /// Requests answered so far, in total and per persona id.
  std::size_t calls() const;
  std::size_t calls_for(std::string_view id) const;
  void reset_counts();

 private:
  struct Persona {
    std::string id;
    std::string text;
    std::vector<double> theta;
  };
  llm::Outcome answer(const llm::Request& request);
  std::vector<double> probabilities(const Persona& persona, std::size_t item) const;

  psychometrics::Instrument instrument_;
  std::vector<GrmItem> items_;
  std::vector<std::size_t> item_trait_;
  GradedResponseOptions options_;
  std::vector<Persona> personas_;
  mutable std::mutex mutex_;
  std::size_t calls_ = 0;
  std::map<std::string, std::size_t, std::less<>> calls_by_persona_;
};

}  // namespace popalign::administer
