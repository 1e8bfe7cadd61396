// The whole pipeline from Python (popalign::pipeline; popalign.run / popalign.plan in
// python/popalign/_run.py):
//  - parse_pipeline_config(text, path, exact_lines): the library's config reader on TOML text
//    (a file's text, or the TOML the Python layer writes from a dict). `path` names the config in
//    messages and anchors relative paths. exact_lines=false (the text was generated): messages
//    name "path: key" without the generated text's line numbers.
//  - run_pipeline(config, generator, judge, respondent, embedder, dimension, progress, log): each
//    backend None (the endpoint's HTTP client) or a Python callable (CallableBackend, the adapter
//    of administer()); the embedder None (GloVe-SIF) or a callable (CallableEmbedder). They go
//    into pipeline::RunOptions, behind the run's CachedBackend on <run_dir>/llm-cache.sqlite.
//    The run goes on a worker thread without the GIL (run_cancellable): Ctrl-C cancels the
//    run's token, the pipeline writes what is finished and returns "cancelled", and
//    KeyboardInterrupt is raised; a rerun resumes. When a callable (LLM, embedder, progress or
//    log) raises, the run is cancelled and the result carries the exception with the role and
//    the stage it happened in; the Python layer raises it as BackendError naming both.
//  - plan_pipeline(config): the dry run (pipeline::plan_run), sends nothing.
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <string>

#include <popalign/pipeline/config.hpp>
#include <popalign/pipeline/pipeline.hpp>

#include "callables.hpp"
#include "common.hpp"

namespace popalign::python {

namespace {

namespace pl = pipeline;

/// "file:12: key" -> "file: key" (the line of a generated text means nothing to the user).
std::string without_line(const std::string& s) {
  static const std::regex re(R"(:[0-9]+: )");
  return std::regex_replace(s, re, ": ", std::regex_constants::format_first_only);
}

py::dict endpoint_dict(const pl::Endpoint& e) {
  py::dict d;
  d["base_url"] = e.base_url;
  d["model"] = e.model;
  d["concurrency"] = e.concurrency;
  d["prompt_price"] = e.prompt_price;
  d["completion_price"] = e.completion_price;
  return d;
}

/// What a run shares between its worker threads and the binding: the stage in progress and the
/// first exception a Python callback (progress, log, embedder) raised.
struct RunState {
  std::mutex mutex;
  std::string stage;
  std::string error_stage, error_role;
  std::exception_ptr error;

  void set_stage(const std::string& s) {
    std::lock_guard<std::mutex> lock(mutex);
    stage = s;
  }
  std::string current() {
    std::lock_guard<std::mutex> lock(mutex);
    return stage;
  }
  void fail(const std::string& role, std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mutex);
    if (error) return;
    error = std::move(e);
    error_role = role;
    error_stage = stage;
  }
};

/// The Python exception object of an exception_ptr (GIL held).
py::object exception_object(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (py::error_already_set& err) {
    return err.value();
  } catch (const std::exception& err) {
    return py::module_::import("builtins").attr("RuntimeError")(std::string(err.what()));
  } catch (...) {
    return py::module_::import("builtins").attr("RuntimeError")("unknown C++ exception");
  }
}

}  // namespace

void bind_pipeline(py::module_& m) {
  py::class_<pl::PipelineConfig>(
      m, "PipelineConfig", "A validated pipeline config (popalign::pipeline::PipelineConfig).")
      .def_property_readonly("file", [](const pl::PipelineConfig& c) { return c.file.string(); })
      .def_property_readonly("run_dir",
                             [](const pl::PipelineConfig& c) { return c.run_dir.string(); })
      .def_readonly("seed", &pl::PipelineConfig::seed)
      .def_property_readonly("posts", [](const pl::PipelineConfig& c) { return c.posts.string(); })
      .def_property_readonly("personas",
                             [](const pl::PipelineConfig& c) { return c.personas.string(); })
      .def_property_readonly("instrument",
                             [](const pl::PipelineConfig& c) { return c.administer.instrument; })
      .def_property_readonly("n", [](const pl::PipelineConfig& c) { return c.align.n; })
      .def_property_readonly("groups",
                             [](const pl::PipelineConfig& c) {
                               std::vector<std::string> names;
                               for (const auto& g : c.groups) names.push_back(g.name);
                               return names;
                             })
      .def_property_readonly("models",
                             [](const pl::PipelineConfig& c) {
                               py::dict d;
                               d["generator"] = endpoint_dict(c.generator);
                               d["judge"] = endpoint_dict(c.judge);
                               d["respondent"] = endpoint_dict(c.respondent);
                               return d;
                             })
      .def("__repr__", [](const pl::PipelineConfig& c) {
        return "PipelineConfig(file='" + c.file.string() + "', run_dir='" + c.run_dir.string() +
               "', input='" + (c.posts.empty() ? c.personas : c.posts).string() +
               "', n=" + std::to_string(c.align.n) + ", groups=" + std::to_string(c.groups.size()) +
               ")";
      });

  py::class_<pl::Progress>(m, "RunProgress", "Progress of a pipeline run (pipeline::Progress).")
      .def_readonly("stage", &pl::Progress::stage)
      .def_readonly("done", &pl::Progress::done)
      .def_readonly("total", &pl::Progress::total)
      .def_readonly("overall", &pl::Progress::overall)
      .def_readonly("cost_so_far", &pl::Progress::cost_so_far)
      .def_readonly("cost_rest", &pl::Progress::cost_rest)
      .def("__repr__", [](const pl::Progress& p) {
        return "RunProgress(stage='" + p.stage + "', done=" + std::to_string(p.done) +
               ", total=" + std::to_string(p.total) +
               ", overall=" + py::repr(py::float_(p.overall)).cast<std::string>() + ")";
      });

  m.def(
      "parse_pipeline_config",
      [](const std::string& text, const std::string& path, bool exact_lines) {
        pl::PipelineConfig c;
        try {
          c = pl::parse_config(text, path);
        } catch (const InvalidArgument& e) {
          if (exact_lines) throw;
          std::string msg = e.what();
          const std::string prefix = "invalid argument '" + e.argument() + "': ";
          if (msg.rfind(prefix, 0) == 0) msg.erase(0, prefix.size());
          throw InvalidArgument(without_line(e.argument()), msg);
        }
        // Later messages (a stage's InvalidArgument) name "path: key", not a generated line.
        if (!exact_lines) c.lines.clear();
        return c;
      },
      py::arg("text"), py::arg("path"), py::arg("exact_lines"));

  m.def(
      "plan_pipeline",
      [](const pl::PipelineConfig& config) {
        const pl::RunPlan plan = without_gil([&] { return pl::plan_run(config); });
        py::list stages;
        for (const auto& s : plan.stages) {
          py::dict d;
          d["name"] = s.name;
          d["model"] = s.model;
          d["calls"] = s.calls;
          d["upper_bound"] = s.upper_bound;
          d["prompt_tokens"] = s.prompt_tokens;
          d["completion_tokens"] = s.completion_tokens;
          d["cost"] = s.cost;
          d["done"] = s.done;
          stages.append(d);
        }
        py::dict d;
        d["stages"] = stages;
        d["calls"] = plan.calls();
        d["cost"] = plan.cost();
        d["table"] = plan.table();
        return d;
      },
      py::arg("config"));

  m.def(
      "run_pipeline",
      [](const pl::PipelineConfig& config, py::object generator, py::object judge,
         py::object respondent, py::object embedder, Index dimension, py::object progress,
         py::object log) {
        CancellationToken token;
        pl::RunOptions ro;
        ro.cancel = token;
        auto state = std::make_shared<RunState>();
        std::map<std::string, std::shared_ptr<CallableBackend>> callables;
        const std::pair<const char*, py::object*> roles[] = {
            {"generator", &generator}, {"judge", &judge}, {"respondent", &respondent}};
        for (const auto& [role, obj] : roles) {
          if (obj->is_none()) continue;
          const pl::Endpoint& e = std::string(role) == "generator" ? config.generator
                                  : std::string(role) == "judge"   ? config.judge
                                                                   : config.respondent;
          auto cb = make_callable_backend(*obj, e.model, token, role);
          callables[role] = cb;
          (std::string(role) == "generator" ? ro.generator
           : std::string(role) == "judge"   ? ro.judge
                                            : ro.respondent) = cb;
        }
        if (!embedder.is_none())
          ro.embedder = make_callable_embedder(embedder, dimension, false, "embedder");
        std::shared_ptr<py::object> progress_fn =
            progress.is_none() ? nullptr : hold(std::move(progress));
        std::shared_ptr<py::object> log_fn = log.is_none() ? nullptr : hold(std::move(log));
        ro.progress = [state, progress_fn, token](const pl::Progress& p) mutable {
          state->set_stage(p.stage);
          if (!progress_fn) return false;
          py::gil_scoped_acquire gil;
          try {
            const py::object stop = (*progress_fn)(p);
            return !stop.is_none() && stop.cast<bool>();
          } catch (...) {
            state->fail("progress", std::current_exception());
            token.cancel();
            return true;
          }
        };
        if (log_fn)
          ro.log = [state, log_fn, token](const std::string& message) mutable {
            py::gil_scoped_acquire gil;
            try {
              (*log_fn)(message);
            } catch (...) {
              state->fail("log", std::current_exception());
              token.cancel();
            }
          };

        pl::RunResult res;
        std::exception_ptr run_error;
        try {
          res = run_cancellable(token, [&] {
            try {
              return pl::run_pipeline(config, ro);
            } catch (const py::error_already_set&) {
              // A Python callable (the embedder) raised inside a stage.
              state->fail("embedder", std::current_exception());
              throw;
            }
          });
        } catch (const py::error_already_set& e) {
          // Ctrl-C (KeyboardInterrupt after the run stopped) goes to the caller as it is.
          if (e.matches(PyExc_KeyboardInterrupt) || !state->error) throw;
        } catch (...) {
          run_error = std::current_exception();
        }
        // The first Python exception of the run: a callable backend's, else a callback's.
        py::object error = py::none();
        std::string error_role, error_stage;
        for (const auto& [role, cb] : callables)
          if (cb->failed() && error.is_none()) {
            try {
              cb->rethrow_error();
            } catch (...) {
              error = exception_object(std::current_exception());
            }
            error_role = role;
            error_stage = state->current();
          }
        if (error.is_none() && state->error) {
          error = exception_object(state->error);
          error_role = state->error_role;
          error_stage = state->error_stage;
        }
        if (error.is_none() && run_error) std::rethrow_exception(run_error);

        py::dict d;
        d["status"] = res.status;
        py::list stages;
        for (const auto& s : res.stages) {
          py::dict e;
          e["name"] = s.name;
          e["action"] = s.action;
          e["seconds"] = s.seconds;
          e["calls"] = s.calls;
          e["cached_calls"] = s.cached_calls;
          e["cost"] = s.cost;
          e["summary"] = s.summary;
          stages.append(e);
        }
        d["stages"] = stages;
        d["report"] = res.report.string();
        std::vector<std::string> files;
        for (const auto& f : res.persona_files) files.push_back(f.string());
        d["persona_files"] = files;
        d["cost"] = res.cost;
        d["error"] = error;
        d["error_role"] = error_role;
        d["error_stage"] = error_stage;
        return d;
      },
      py::arg("config"), py::arg("generator"), py::arg("judge"), py::arg("respondent"),
      py::arg("embedder"), py::arg("dimension"), py::arg("progress"), py::arg("log"));
}

}  // namespace popalign::python
