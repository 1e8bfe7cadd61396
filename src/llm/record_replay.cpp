// RecordingBackend / ReplayBackend: calls as JSONL lines keyed by the request hash.
#include <fstream>

#include <popalign/llm/record_replay.hpp>

#include "json_io.hpp"

namespace popalign::llm {

namespace {
Request with_model(const Request& r, const std::string& default_model) {
  if (!r.model.empty() || default_model.empty()) return r;
  Request copy = r;
  copy.model = default_model;
  return copy;
}
}  // namespace

RecordingBackend::RecordingBackend(std::shared_ptr<LlmBackend> inner, std::string path)
    : inner_(std::move(inner)), path_(std::move(path)) {
  check_argument(inner_ != nullptr, "inner", "must not be null");
  check_argument(!path_.empty(), "path", "must not be empty");
  out_.open(path_, std::ios::out | std::ios::app | std::ios::binary);
  if (!out_) throw IoError(path_, "cannot open the record file for appending");
}

std::vector<Outcome> RecordingBackend::complete(std::span<const Request> batch) {
  std::vector<Outcome> out = inner_->complete(batch);
  if (out.size() != batch.size())
    throw BackendError(inner_->name() + ": complete() returned " + std::to_string(out.size()) +
                       " outcomes for " + std::to_string(batch.size()) + " requests");
  std::string lines;
  const std::string model = inner_->default_model();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const Request r = with_model(batch[i], model);
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    j["key"] = request_hash(r);
    j["request"] = detail::request_json(r);
    if (out[i].ok()) {
      Response resp = out[i].value();
      resp.from_cache = false;
      j["response"] = detail::response_json(resp);
    } else {
      j["failure"] = detail::failure_json(out[i].error());
    }
    lines += detail::dump_strict(j, "record");
    lines += '\n';
  }
  std::lock_guard lock(mutex_);
  out_.write(lines.data(), static_cast<std::streamsize>(lines.size()));
  out_.flush();
  if (!out_) throw IoError(path_, "write failed");
  return out;
}

void ReplayOptions::validate() const {
  check_argument(!path.empty(), "path", "the replay file path must not be empty");
}

ReplayBackend::ReplayBackend(ReplayOptions options) : options_(std::move(options)) {
  options_.validate();
  std::ifstream in(options_.path, std::ios::binary);
  if (!in) throw IoError(options_.path, "cannot open the replay file");
  std::string line;
  std::size_t line_no = 0;
  std::size_t bad_line = 0;
  std::string bad_message;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    if (bad_line != 0)  // a malformed line followed by more lines: real corruption
      throw ParseError(options_.path, bad_line, bad_message);
    try {
      const auto j = detail::parse_bounded(line);
      const std::string key = j.at("key").get<std::string>();
      if (j.contains("response")) {
        Response r = detail::response_from(j.at("response"));
        r.from_cache = true;
        entries_.insert_or_assign(key, Outcome(std::move(r)));
      } else if (j.contains("failure")) {
        if (!options_.replay_failures) continue;
        auto it = entries_.find(key);
        if (it == entries_.end() || !it->second.ok())
          entries_.insert_or_assign(key, Outcome(detail::failure_from(j.at("failure"))));
      } else {
        throw Error("neither \"response\" nor \"failure\"");
      }
    } catch (const std::exception& e) {
      bad_line = line_no;
      bad_message = std::string("malformed record line: ") + e.what();
    }
  }
  if (bad_line != 0) partial_lines_ = 1;  // only the last line: a write cut by a kill
}

std::vector<Outcome> ReplayBackend::complete(std::span<const Request> batch) {
  std::vector<Outcome> result;
  result.reserve(batch.size());
  std::vector<std::size_t> misses;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const std::string key = request_hash(with_model(batch[i], options_.default_model));
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      result.push_back(it->second);
    } else {
      misses.push_back(i);
      result.push_back(Failure{ErrorKind::not_found,
                               0,
                               "request " + key + " is not in replay file " + options_.path,
                               {}});
    }
  }
  if (!misses.empty() && options_.fallback) {
    std::vector<Request> to_send;
    for (std::size_t i : misses) to_send.push_back(batch[i]);
    std::vector<Outcome> out = options_.fallback->complete(to_send);
    if (out.size() != to_send.size())
      throw BackendError("replay fallback returned the wrong number of outcomes");
    for (std::size_t k = 0; k < misses.size(); ++k) result[misses[k]] = std::move(out[k]);
  }
  return result;
}

}  // namespace popalign::llm
