// GradedResponseRespondent: a test-double LLM answering like a GRM respondent.
#include <popalign/administer/respondent.hpp>

#include <algorithm>
#include <cmath>

#include <popalign/core/error.hpp>
#include <popalign/core/random.hpp>
#include <popalign/io/json.hpp>

namespace popalign::administer {

using psychometrics::Dimension;
using psychometrics::Instrument;
using psychometrics::Scale;

void GradedResponseOptions::validate() const {
  check_argument(nonsense_rate >= 0 && nonsense_rate <= 1, "nonsense_rate", "must be in [0, 1]");
  check_argument(batch_drop_rate >= 0 && batch_drop_rate <= 1, "batch_drop_rate",
                 "must be in [0, 1]");
  check_argument(other_mass >= 0 && other_mass < 1, "other_mass", "must be in [0, 1)");
}

GradedResponseRespondent::GradedResponseRespondent(Instrument instrument,
                                                   std::vector<GrmItem> items,
                                                   GradedResponseOptions options)
    : instrument_(std::move(instrument)), items_(std::move(items)), options_(options) {
  options_.validate();
  check_argument(items_.size() == instrument_.items.size(), "items",
                 "needs one GrmItem per instrument item (" +
                     std::to_string(instrument_.items.size()) + "), got " +
                     std::to_string(items_.size()));
  const std::size_t k = static_cast<std::size_t>(instrument_.scale.num_options());
  for (std::size_t i = 0; i < items_.size(); ++i) {
    const GrmItem& it = items_[i];
    const std::string name = "items[" + std::to_string(i) + "]";
    check_argument(std::isfinite(it.discrimination) && it.discrimination > 0, "items",
                   name + ".discrimination must be positive");
    check_argument(it.thresholds.size() + 1 == k, "items",
                   name + " needs " + std::to_string(k - 1) + " thresholds");
    for (std::size_t j = 1; j < it.thresholds.size(); ++j)
      check_argument(it.thresholds[j] > it.thresholds[j - 1], "items",
                     name + ".thresholds must be strictly increasing");
    const std::string& trait = instrument_.items[i].trait;
    auto pos = std::find_if(instrument_.traits.begin(), instrument_.traits.end(),
                            [&](const Dimension& d) { return d.code == trait; });
    check_argument(pos != instrument_.traits.end(), "instrument",
                   "item " + instrument_.items[i].id + " has unknown trait " + trait);
    item_trait_.push_back(static_cast<std::size_t>(pos - instrument_.traits.begin()));
  }
}

std::vector<GrmItem> GradedResponseRespondent::random_items(const Instrument& instrument,
                                                            std::uint64_t seed) {
  Rng rng(seed);
  const int k = instrument.scale.num_options();
  std::vector<GrmItem> out;
  for (std::size_t i = 0; i < instrument.items.size(); ++i) {
    GrmItem it;
    it.discrimination = rng.uniform(1.5, 2.5);
    const double shift = rng.uniform(-0.4, 0.4);
    for (int j = 1; j < k; ++j) {
      const double base = k > 2 ? -1.5 + 3.0 * (j - 1) / (k - 2) : 0.0;
      it.thresholds.push_back(base + shift);
    }
    out.push_back(std::move(it));
  }
  return out;
}

void GradedResponseRespondent::add_persona(std::string id, std::string text,
                                           std::vector<double> theta) {
  check_argument(!id.empty(), "id", "must not be empty");
  check_argument(!text.empty(), "text", "must not be empty");
  check_argument(theta.size() == instrument_.traits.size(), "theta",
                 "needs one value per instrument trait (" +
                     std::to_string(instrument_.traits.size()) + "), got " +
                     std::to_string(theta.size()));
  std::lock_guard lock(mutex_);
  for (const Persona& p : personas_)
    check_argument(p.id != id, "id", "persona '" + id + "' is already registered");
  personas_.push_back({std::move(id), std::move(text), std::move(theta)});
}

std::vector<double> GradedResponseRespondent::probabilities(const Persona& persona,
                                                            std::size_t item) const {
  const GrmItem& it = items_[item];
  const double theta =
      static_cast<double>(instrument_.items[item].key) * persona.theta[item_trait_[item]];
  const std::size_t k = it.thresholds.size() + 1;
  std::vector<double> cum(k + 1, 0.0);
  cum[0] = 1.0;
  for (std::size_t j = 1; j < k; ++j)
    cum[j] = 1.0 / (1.0 + std::exp(-it.discrimination * (theta - it.thresholds[j - 1])));
  std::vector<double> p(k);
  for (std::size_t j = 0; j < k; ++j) p[j] = std::max(0.0, cum[j] - cum[j + 1]);
  return p;
}

std::vector<double> GradedResponseRespondent::category_probabilities(std::string_view id,
                                                                     std::size_t item) const {
  check_argument(item < items_.size(), "item", "out of range");
  for (const Persona& p : personas_)
    if (p.id == id) return probabilities(p, item);
  throw InvalidArgument("id", "unknown persona '" + std::string(id) + "'");
}

std::size_t GradedResponseRespondent::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

std::size_t GradedResponseRespondent::calls_for(std::string_view id) const {
  std::lock_guard lock(mutex_);
  auto it = calls_by_persona_.find(id);
  return it == calls_by_persona_.end() ? 0 : it->second;
}

void GradedResponseRespondent::reset_counts() {
  std::lock_guard lock(mutex_);
  calls_ = 0;
  calls_by_persona_.clear();
}

namespace {

std::uint64_t mix(std::uint64_t a, std::uint64_t b) noexcept {
  std::uint64_t s = a ^ (b + 0x9E3779B97F4A7C15ULL + (a << 6) + (a >> 2));
  return splitmix64(s);
}

int sample_category(const std::vector<double>& p, Rng& rng) {
  double u = rng.uniform();
  for (std::size_t k = 0; k < p.size(); ++k) {
    if (u < p[k]) return static_cast<int>(k);
    u -= p[k];
  }
  return static_cast<int>(p.size()) - 1;
}

const char* number_word(int d) {
  static const char* words[] = {"zero", "one",   "two",   "three", "four", "five",
                                "six",  "seven", "eight", "nine",  "ten"};
  return d >= 0 && d <= 10 ? words[d] : "many";
}

std::int64_t rough_tokens(std::string_view s) {
  return static_cast<std::int64_t>(s.size() / 4 + 1);
}

}  // namespace

llm::Outcome GradedResponseRespondent::answer(const llm::Request& request) {
  // Persona: the longest registered text found in the system message (else any message).
  const Persona* persona = nullptr;
  auto find_in = [&](const std::string& content) {
    for (const Persona& p : personas_)
      if (content.find(p.text) != std::string::npos &&
          (!persona || p.text.size() > persona->text.size()))
        persona = &p;
  };
  for (const llm::Message& m : request.messages)
    if (m.role == "system") find_in(m.content);
  if (!persona)
    for (const llm::Message& m : request.messages) find_in(m.content);
  if (!persona)
    return llm::Failure{llm::ErrorKind::bad_request,
                        400,
                        "graded-response-respondent: no registered persona in the prompt",
                        {}};
  {
    std::lock_guard lock(mutex_);
    ++calls_;
    ++calls_by_persona_[persona->id];
  }

  std::string user;
  for (const llm::Message& m : request.messages)
    if (m.role == "user") user = m.content;
  if (user.empty()) user = request.prompt;

  // Items, in the order they appear.
  std::vector<std::pair<std::size_t, std::size_t>> found;  // (position, item)
  for (std::size_t i = 0; i < instrument_.items.size(); ++i) {
    const std::size_t pos = user.find(instrument_.items[i].text);
    if (pos != std::string::npos) found.emplace_back(pos, i);
  }
  std::sort(found.begin(), found.end());
  if (found.empty())
    return llm::Failure{llm::ErrorKind::bad_request,
                        400,
                        "graded-response-respondent: no instrument item in the prompt",
                        {}};
  const bool batch = !request.json_schema.empty();
  if (!batch && found.size() > 1) {
    // One item per call: the longest text found (an item text may contain another's).
    auto best = std::max_element(found.begin(), found.end(), [&](const auto& a, const auto& b) {
      return instrument_.items[a.second].text.size() < instrument_.items[b.second].text.size();
    });
    found = {*best};
  }

  const Scale& scale = instrument_.scale;
  bool reversed = false;
  if (!scale.labels.empty()) {
    const std::size_t lo = user.find(scale.labels.front());
    const std::size_t hi = user.find(scale.labels.back());
    reversed = lo != std::string::npos && hi != std::string::npos && hi < lo;
  }
  auto presented = [&](int value) { return reversed ? scale.min + scale.max - value : value; };

  std::uint64_t s = mix(options_.seed, request.seed.value_or(0));
  s = mix(s, hash_string(persona->id));
  for (const auto& f : found) s = mix(s, f.second);
  Rng rng(s);

  llm::Response resp;
  resp.model = request.model.empty() ? default_model() : request.model;
  resp.finish_reason = "stop";

  if (request.logprobs) {
    const std::size_t item = found.front().second;
    const std::vector<double> p = probabilities(*persona, item);
    std::vector<llm::TopLogprob> top;
    for (std::size_t k = 0; k < p.size(); ++k) {
      const double q = std::max(p[k] * (1.0 - options_.other_mass), 1e-300);
      top.push_back({std::to_string(presented(scale.min + static_cast<int>(k))), std::log(q)});
    }
    if (options_.other_mass > 0) top.push_back({"The", std::log(options_.other_mass)});
    std::stable_sort(top.begin(), top.end(),
                     [](const auto& a, const auto& b) { return a.logprob > b.logprob; });
    if (request.top_logprobs > 0 && top.size() > static_cast<std::size_t>(request.top_logprobs))
      top.resize(static_cast<std::size_t>(request.top_logprobs));
    llm::TokenLogprob tl;
    tl.token = top.front().token;
    tl.logprob = top.front().logprob;
    tl.top = std::move(top);
    resp.text = tl.token;
    resp.logprobs.push_back(std::move(tl));
  } else if (batch) {
    io::JsonValue obj = io::JsonValue::object();
    for (const auto& f : found) {
      const int k = sample_category(probabilities(*persona, f.second), rng);
      if (rng.bernoulli(options_.batch_drop_rate)) continue;
      obj.set(instrument_.items[f.second].id, io::JsonValue(presented(scale.min + k)));
    }
    resp.text = obj.dump();
  } else {
    const std::size_t item = found.front().second;
    const int k = sample_category(probabilities(*persona, item), rng);
    const int value = scale.min + k;
    const int d = presented(value);
    const std::string label =
        scale.labels.empty() ? std::string() : scale.labels[static_cast<std::size_t>(k)];
    static const char* nonsense[] = {
        "Once upon a time there was a little dog.", "I like the sun and the big blue sea.",
        "Hmm, that is a hard question to think about.", "Maybe. It depends on the day."};
    if (rng.bernoulli(options_.nonsense_rate)) {
      resp.text = nonsense[rng.uniform_int(4)];
    } else {
      AnswerStyle style = options_.style;
      if (style == AnswerStyle::mixed) style = static_cast<AnswerStyle>(rng.uniform_int(4));
      if (style == AnswerStyle::label && label.empty()) style = AnswerStyle::digit;
      switch (style) {
        case AnswerStyle::digit:
          resp.text = std::to_string(d);
          break;
        case AnswerStyle::label:
          resp.text = label + ".";
          break;
        case AnswerStyle::number_word:
          resp.text = std::string("I would say ") + number_word(d) + ".";
          break;
        case AnswerStyle::chatty:
        case AnswerStyle::mixed:
          resp.text = "Thinking about myself, I would answer " + std::to_string(d) +
                      (label.empty() ? std::string() : " (" + label + ")") + ".";
          break;
      }
    }
  }
  for (const llm::Message& m : request.messages)
    resp.usage.prompt_tokens += rough_tokens(m.content);
  resp.usage.completion_tokens = rough_tokens(resp.text);
  return resp;
}

std::vector<llm::Outcome> GradedResponseRespondent::complete(std::span<const llm::Request> batch) {
  std::vector<llm::Outcome> out;
  out.reserve(batch.size());
  for (const llm::Request& r : batch) out.push_back(answer(r));
  return out;
}

}  // namespace popalign::administer
