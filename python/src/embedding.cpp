// Persona retrieval from Python with the embedder given as
//  - "glove": the shipped GloVe vectors with SIF weighting (its common component fitted on the
//    personas searched, as `popalign retrieve` does); every scoring works with it;
//  - any Python callable fn(texts: list[str]) -> array (len(texts) x dimension), called with the
//    GIL taken; max-fact, whole and fused (which then fuses max-fact with whole) work with it;
//    max-sim and max-sim-profile need token vectors, which a callable does not have.
#include <memory>

#include <popalign/embedding/embedder.hpp>
#include <popalign/embedding/retrieval.hpp>
#include <popalign/embedding/word_vectors.hpp>
#include <popalign/io/persona_record.hpp>

#include "callables.hpp"
#include "common.hpp"

namespace popalign::python {

RowMatrix<float> CallableEmbedder::embed(const std::vector<std::string>& texts) const {
  py::gil_scoped_acquire gil;
  py::object out = (*fn_)(py::cast(texts));
  auto arr = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(out);
  if (!arr) throw py::error_already_set();
  if (arr.ndim() != 2 || arr.shape(0) != static_cast<py::ssize_t>(texts.size()) ||
      arr.shape(1) != dimension_)
    throw BackendError("embedder callable returned an array of shape " +
                       py::str(py::object(arr.attr("shape"))).cast<std::string>() + " for " +
                       std::to_string(texts.size()) + " texts of dimension " +
                       std::to_string(dimension_));
  return Eigen::Map<const RowMatrix<float>>(arr.data(), arr.shape(0), arr.shape(1));
}

std::shared_ptr<const embedding::Embedder> make_callable_embedder(py::object embedder,
                                                                  Index dimension, bool normalized,
                                                                  const std::string& argument) {
  if (!PyCallable_Check(embedder.ptr()))
    throw InvalidArgument(
        argument, "must be 'glove' or a callable texts -> array (got " +
                      py::str(py::type::of(embedder).attr("__name__")).cast<std::string>() + ")");
  check_argument(dimension > 0, argument.c_str(), "a callable embedder needs its dimension (> 0)");
  return std::make_shared<CallableEmbedder>(embedder, dimension, normalized);
}

void bind_embedding(py::module_& m) {
  m.def(
      "retrieve",
      [](const std::vector<io::PersonaRecord>& personas, const std::vector<std::string>& queries,
         Index k, py::object embedder, Index dimension, bool normalized, const std::string& scoring,
         int threads) {
        std::vector<io::PersonaRecord> texts;
        texts.reserve(personas.size());
        std::vector<std::string> corpus;
        for (const auto& p : personas) {
          texts.push_back(p);
          if (texts.back().facts.empty()) texts.back().facts = io::split_sentences(p.text);
          corpus.insert(corpus.end(), texts.back().facts.begin(), texts.back().facts.end());
        }
        std::shared_ptr<const embedding::Embedder> e;
        if (py::isinstance<py::str>(embedder)) {
          const auto name = embedder.cast<std::string>();
          if (name != "glove")
            throw InvalidArgument("embedder", "must be 'glove' or a callable, got '" + name + "'");
          py::gil_scoped_release nogil;
          e = embedding::make_sif_embedder(embedding::default_word_vectors_path(), "", corpus,
                                           embedding::SifOptions{.threads = threads});
        } else {
          check_argument(dimension > 0, "dimension", "must be > 0 for a callable embedder");
          e = make_callable_embedder(embedder, dimension, normalized, "embedder");
        }
        embedding::RetrieverOptions ro;
        ro.scoring = embedding::parse_profile_scoring(scoring);
        ro.execution = make_execution(threads, py::none());
        auto hits = run_cancellable(ro.execution.cancel, [&] {
          const embedding::PersonaRetriever r(e, texts, ro);
          return r.search(queries, k);
        });
        std::vector<std::int64_t> query, rank, index;
        std::vector<double> score;
        for (std::size_t q = 0; q < hits.size(); ++q)
          for (std::size_t j = 0; j < hits[q].size(); ++j) {
            query.push_back(static_cast<std::int64_t>(q));
            rank.push_back(static_cast<std::int64_t>(j + 1));
            index.push_back(hits[q][j].index);
            score.push_back(hits[q][j].score);
          }
        py::dict d;
        d["query"] = to_numpy(std::move(query));
        d["rank"] = to_numpy(std::move(rank));
        d["index"] = to_numpy(std::move(index));
        d["score"] = to_numpy(std::move(score));
        return d;
      },
      py::arg("personas"), py::arg("queries"), py::arg("k"), py::arg("embedder"),
      py::arg("dimension"), py::arg("normalized"), py::arg("scoring"), py::arg("threads"));
}

}  // namespace popalign::python
