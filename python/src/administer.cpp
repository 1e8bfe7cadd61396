// Administering questionnaires from Python, with the LLM backend given as
//  - a base URL: the library's HTTP stack (OpenAiBackend -> RetryBackend -> CachedBackend when
//    a cache file is given), sharing the run's cancellation token; or
//  - any Python callable (or object with .complete) taking a list of request dicts and returning
//    one answer per request: a str (the text), a dict {"text", "finish_reason"?, "logprobs"?,
//    "usage"?}, or None / an Exception instance for a failed call. It is called with the GIL
//    taken from the computation's worker thread. If it raises, the run is cancelled and the
//    exception is re-raised to the caller once administer() has stopped.
// The administering API bound here is popalign::administer (include/popalign/administer/); the
// same backends drive persona mining (popalign::persona::mine_personas, `mine`).
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>

#include <popalign/administer/administer.hpp>
#include <popalign/administer/prompts.hpp>
#include <popalign/embedding/word_vectors.hpp>
#include <popalign/io/persona_record.hpp>
#include <popalign/llm/backend.hpp>
#include <popalign/llm/cache.hpp>
#include <popalign/llm/openai_client.hpp>
#include <popalign/llm/retry.hpp>
#include <popalign/persona/mining.hpp>
#include <popalign/persona/post_readers.hpp>

#include "callables.hpp"
#include "common.hpp"

namespace popalign::python {

namespace {

py::dict request_dict(const llm::Request& r) {
  py::dict d;
  py::list messages;
  for (const auto& msg : r.messages) {
    py::dict m;
    m["role"] = msg.role;
    m["content"] = msg.content;
    messages.append(m);
  }
  d["messages"] = messages;
  d["prompt"] = r.prompt.empty() ? py::object(py::none()) : py::object(py::str(r.prompt));
  d["model"] = r.model;
  d["temperature"] =
      r.temperature ? py::object(py::float_(*r.temperature)) : py::object(py::none());
  d["top_p"] = r.top_p ? py::object(py::float_(*r.top_p)) : py::object(py::none());
  d["max_tokens"] = r.max_tokens ? py::object(py::int_(*r.max_tokens)) : py::object(py::none());
  d["seed"] = r.seed ? py::object(py::int_(*r.seed)) : py::object(py::none());
  d["stop"] = r.stop;
  d["json_schema"] =
      r.json_schema.empty() ? py::object(py::none()) : py::object(py::str(r.json_schema));
  d["logprobs"] = r.logprobs;
  d["top_logprobs"] = r.top_logprobs;
  return d;
}

std::pair<std::string, double> token_pair(py::handle t) {
  if (py::isinstance<py::dict>(t))
    return {t["token"].cast<std::string>(), t["logprob"].cast<double>()};
  auto s = py::reinterpret_borrow<py::sequence>(t);
  return {s[0].cast<std::string>(), s[1].cast<double>()};
}

llm::Outcome outcome_of(py::handle a) {
  if (a.is_none()) return llm::Failure{llm::ErrorKind::other, 0, "the backend returned None", {}};
  if (py::isinstance<py::str>(a)) {
    llm::Response r;
    r.text = a.cast<std::string>();
    r.finish_reason = "stop";
    return r;
  }
  if (PyExceptionInstance_Check(a.ptr()))
    return llm::Failure{llm::ErrorKind::other, 0, py::str(a).cast<std::string>(), {}};
  if (!py::isinstance<py::dict>(a))
    throw BackendError(
        "callable backend: an answer must be a str, a dict, None or an exception, got " +
        py::str(py::type::of(a).attr("__name__")).cast<std::string>());
  auto d = py::reinterpret_borrow<py::dict>(a);
  llm::Response r;
  r.text = d.contains("text") ? d["text"].cast<std::string>() : std::string();
  r.finish_reason = d.contains("finish_reason") ? d["finish_reason"].cast<std::string>() : "stop";
  if (d.contains("model")) r.model = d["model"].cast<std::string>();
  if (d.contains("usage")) {
    auto u = d["usage"];
    r.usage.prompt_tokens = u["prompt_tokens"].cast<std::int64_t>();
    r.usage.completion_tokens = u["completion_tokens"].cast<std::int64_t>();
  }
  if (d.contains("logprobs") && !d["logprobs"].is_none()) {
    for (py::handle t : d["logprobs"]) {
      llm::TokenLogprob tl;
      if (py::isinstance<py::dict>(t)) {
        tl.token = t["token"].cast<std::string>();
        tl.logprob = t["logprob"].cast<double>();
        if (py::reinterpret_borrow<py::dict>(t).contains("top"))
          for (py::handle alt : t["top"]) {
            auto [tok, lp] = token_pair(alt);
            tl.top.push_back({tok, lp});
          }
      } else {
        auto [tok, lp] = token_pair(t);
        tl.token = tok;
        tl.logprob = lp;
      }
      r.logprobs.push_back(std::move(tl));
    }
  }
  return r;
}

/// The LLM backend of a Python call: a base URL (HTTP client -> retries) or a callable
/// (`callable` is then set, to rethrow its exception); a cache file in front when given.
std::shared_ptr<llm::LlmBackend> make_backend(py::object backend, const std::string& model,
                                              const std::string& api_key_env,
                                              std::size_t concurrency, double timeout, int attempts,
                                              std::uint64_t seed, const std::string& cache,
                                              const CancellationToken& token,
                                              std::shared_ptr<CallableBackend>& callable) {
  std::shared_ptr<llm::LlmBackend> b;
  if (py::isinstance<py::str>(backend)) {
    llm::OpenAiOptions http;
    http.base_url = backend.cast<std::string>();
    http.model = model;
    http.api_key_env = api_key_env;
    http.max_in_flight = concurrency;
    http.total_timeout = std::chrono::milliseconds(static_cast<long long>(timeout * 1000));
    http.cancel = token;
    b = std::make_shared<llm::OpenAiBackend>(http);
    llm::RetryOptions retry;
    retry.max_attempts = attempts;
    retry.seed = seed;
    retry.cancel = token;
    b = std::make_shared<llm::RetryBackend>(b, retry);
  } else {
    callable = make_callable_backend(backend, model, token, "backend");
    b = callable;
  }
  if (!cache.empty()) {
    llm::CacheOptions c;
    c.path = cache;
    b = std::make_shared<llm::CachedBackend>(b, c);
  }
  return b;
}

py::dict persona_responses_dict(const administer::PersonaResponses& p) {
  py::dict d;
  d["persona_id"] = p.persona_id;
  py::list items;
  for (const auto& it : p.items) {
    py::dict e;
    e["item_id"] = it.item_id;
    e["value"] = it.value ? py::object(py::float_(*it.value)) : py::object(py::none());
    e["status"] = std::string(administer::to_string(it.status));
    e["raw"] = it.raw;
    e["attempts"] = it.attempts;
    e["position"] = it.position;
    e["option_mass"] = it.option_mass;
    e["probabilities"] = it.probabilities;
    e["error"] = it.error;
    items.append(e);
  }
  d["items"] = items;
  d["order"] = p.order;
  d["raw_calls"] = p.raw_calls;
  d["calls"] = p.calls;
  d["cached_calls"] = p.cached_calls;
  d["prompt_tokens"] = p.usage.prompt_tokens;
  d["completion_tokens"] = p.usage.completion_tokens;
  d["failed"] = p.failed();
  return d;
}

}  // namespace

std::vector<llm::Outcome> CallableBackend::complete(std::span<const llm::Request> batch) {
  std::vector<llm::Outcome> out;
  out.reserve(batch.size());
  py::gil_scoped_acquire gil;
  if (error_ || cancel_.cancelled()) {
    for (std::size_t i = 0; i < batch.size(); ++i)
      out.emplace_back(llm::Failure{llm::ErrorKind::cancelled, 0, "cancelled", {}});
    return out;
  }
  try {
    py::list requests;
    for (const auto& r : batch) requests.append(request_dict(r));
    py::object answers = (*fn_)(requests);
    py::list list = py::list(answers);
    if (list.size() != batch.size())
      throw py::value_error("the LLM callable returned " + std::to_string(list.size()) +
                            " answers for " + std::to_string(batch.size()) + " requests");
    for (py::handle a : list) out.push_back(outcome_of(a));
  } catch (...) {
    // The user's exception stops the run and is raised again after it (rethrow_error()).
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    cancel_.cancel();
    out.clear();
    for (std::size_t i = 0; i < batch.size(); ++i)
      out.emplace_back(llm::Failure{llm::ErrorKind::cancelled, 0, "the LLM callable raised", {}});
  }
  return out;
}

std::shared_ptr<CallableBackend> make_callable_backend(py::object backend, const std::string& model,
                                                       const CancellationToken& token,
                                                       const std::string& argument) {
  py::object fn = backend;
  if (!PyCallable_Check(fn.ptr()) && py::hasattr(fn, "complete")) fn = fn.attr("complete");
  if (!PyCallable_Check(fn.ptr()))
    throw InvalidArgument(argument,
                          "must be a base URL (str) or a callable taking a list of request dicts "
                          "(got " +
                              py::str(py::type::of(backend).attr("__name__")).cast<std::string>() +
                              ")");
  return std::make_shared<CallableBackend>(fn, model, token);
}

void bind_administer(py::module_& m) {
  m.def(
      "administer",
      [](const psychometrics::Instrument& instrument,
         const std::vector<io::PersonaRecord>& personas, py::object backend,
         const std::string& mode, const std::string& model, std::uint64_t seed, bool shuffle_items,
         bool reverse_scale, int max_retries, std::optional<double> temperature, int max_tokens,
         int top_logprobs, int logprob_positions, std::size_t personas_per_round,
         std::size_t chunk_size, int parallel_chunks, const std::string& prompt,
         const std::string& cache, const std::string& api_key_env, std::size_t concurrency,
         double timeout, int attempts, int threads, py::object progress) {
        administer::AdministerOptions o;
        o.mode = administer::administer_mode_from_string(mode);
        if (!prompt.empty()) o.prompt = administer::resolve_prompt_template(prompt);
        o.model = model;
        o.seed = seed;
        o.shuffle_items = shuffle_items;
        o.reverse_scale = reverse_scale;
        o.max_retries = max_retries;
        o.temperature = temperature;
        o.max_tokens = max_tokens;
        o.top_logprobs = top_logprobs;
        o.logprob_positions = logprob_positions;
        o.personas_per_round = personas_per_round;
        o.chunk_size = chunk_size;
        o.parallel_chunks = parallel_chunks;
        o.execution = make_execution(threads, std::move(progress));
        o.validate();
        const CancellationToken token = o.execution.cancel;

        std::shared_ptr<CallableBackend> callable;
        const std::shared_ptr<llm::LlmBackend> b =
            make_backend(backend, model, api_key_env, concurrency, timeout, attempts, seed, cache,
                         token, callable);
        std::vector<administer::PersonaResponses> res;
        try {
          res = run_cancellable(
              token, [&] { return administer::administer(*b, instrument, personas, o); });
        } catch (...) {
          if (callable) callable->rethrow_error();
          throw;
        }
        if (callable) callable->rethrow_error();
        const std::string used_model = model.empty() ? b->default_model() : model;
        py::list out, lines;
        for (const auto& p : res) {
          out.append(persona_responses_dict(p));
          lines.append(administer::response_line(p, instrument, o, used_model));
        }
        py::dict d;
        d["responses"] = out;
        d["lines"] = lines;
        d["cancelled"] = token.cancelled();
        return d;
      },
      py::arg("instrument"), py::arg("personas"), py::arg("backend"), py::arg("mode"),
      py::arg("model"), py::arg("seed"), py::arg("shuffle_items"), py::arg("reverse_scale"),
      py::arg("max_retries"), py::arg("temperature"), py::arg("max_tokens"),
      py::arg("top_logprobs"), py::arg("logprob_positions"), py::arg("personas_per_round"),
      py::arg("chunk_size"), py::arg("parallel_chunks"), py::arg("prompt"), py::arg("cache"),
      py::arg("api_key_env"), py::arg("concurrency"), py::arg("timeout"), py::arg("attempts"),
      py::arg("threads"), py::arg("progress"));

  m.def(
      "mine",
      [](const std::string& posts, py::object backend, py::object embedder,
         Index embedder_dimension, const std::string& model, std::uint64_t seed,
         std::size_t max_authors, const std::string& format, const std::string& work_dir,
         std::size_t round_size, const std::string& cache, const std::string& api_key_env,
         std::size_t concurrency, double timeout, int attempts, py::object progress) {
        persona::PostReadOptions ro;
        ro.format = persona::post_format_from_string(format);
        ro.max_authors = max_authors;
        ro.validate();
        persona::MiningOptions o;
        o.quality.seed = o.writer.seed = o.critique.seed = seed;
        if (!model.empty()) o.quality.model = o.writer.model = o.critique.model = model;
        o.work_dir = work_dir;
        o.round_size = round_size;
        o.deduplicate = !embedder.is_none();
        CancellationToken token;
        o.cancel = token;
        if (!progress.is_none()) {
          // Released with the GIL taken, wherever the last copy of the callback goes.
          std::shared_ptr<py::object> fn(new py::object(std::move(progress)), [](py::object* p) {
            py::gil_scoped_acquire gil;
            delete p;
          });
          o.progress = [fn](std::string_view step, std::size_t done, std::size_t total) {
            py::gil_scoped_acquire gil;
            const py::object stop = (*fn)(std::string(step), done, total);
            return !stop.is_none() && stop.cast<bool>();
          };
        }
        o.validate();
        std::shared_ptr<const embedding::Embedder> dedup_embedder;
        if (py::isinstance<py::str>(embedder)) {
          if (embedder.cast<std::string>() != "glove")
            throw InvalidArgument("embedder",
                                  "must be 'glove' (the shipped GloVe vectors with SIF "
                                  "weighting), a callable texts -> array, or None (no "
                                  "deduplication); got '" +
                                      embedder.cast<std::string>() + "'");
        } else if (!embedder.is_none()) {
          dedup_embedder = make_callable_embedder(embedder, embedder_dimension, false, "embedder");
        }
        std::shared_ptr<CallableBackend> callable;
        const std::shared_ptr<llm::LlmBackend> b =
            make_backend(backend, model, api_key_env, concurrency, timeout, attempts, seed, cache,
                         token, callable);
        persona::MiningResult res;
        try {
          res = run_cancellable(token, [&] {
            const persona::PostCorpus corpus = persona::read_posts(posts, ro);
            if (o.deduplicate && !dedup_embedder)
              dedup_embedder =
                  embedding::make_sif_embedder(embedding::default_word_vectors_path(),
                                               embedding::default_common_component_path(), {});
            return persona::mine_personas(*b, dedup_embedder.get(), corpus, o);
          });
        } catch (...) {
          if (callable) callable->rethrow_error();
          throw;
        }
        if (callable) callable->rethrow_error();
        py::dict d;
        d["status"] = res.status;
        d["personas"] = res.personas;
        d["funnel_json"] = res.funnel.to_json().dump();
        d["funnel_table"] = res.funnel.table();
        py::list calls;
        for (const auto& c : res.calls) {
          py::dict e;
          e["step"] = c.step;
          e["units"] = c.units;
          e["resumed"] = c.resumed;
          e["calls"] = c.calls.calls;
          e["cached_calls"] = c.calls.cached_calls;
          e["failed_calls"] = c.calls.failed_calls;
          e["reasks"] = c.calls.reasks;
          calls.append(e);
        }
        d["calls"] = calls;
        d["messages"] = res.messages;
        return d;
      },
      py::arg("posts"), py::arg("backend"), py::arg("embedder"), py::arg("embedder_dimension"),
      py::arg("model"), py::arg("seed"), py::arg("max_authors"), py::arg("format"),
      py::arg("work_dir"), py::arg("round_size"), py::arg("cache"), py::arg("api_key_env"),
      py::arg("concurrency"), py::arg("timeout"), py::arg("attempts"), py::arg("progress"));
}

}  // namespace popalign::python
