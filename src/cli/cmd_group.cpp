// `popalign group`: group-specific persona sets from an aligned persona file (the method's third
// stage; persona/groups.hpp, docs/groups.md). For each group spec: retrieve -> revise -> judge
// -> administer -> score -> align to the group's human reference -> compare.
//
//   popalign group --personas aligned.jsonl (--groups groups.json | --name G --query TEXT
//       [--reference "region:East Asia"] [--n N] [--depth D])
//       --base-url URL --model M [--judge-model M2] [--respondent-model M3] [--cache FILE]
//       [--instrument ipip50] [--reference-data big5|FILE.csv] [--country-column C]
//       [--reference-columns FILE.csv] [--reference-id-column C] [--head FILE]
//       [--no-revise] [--no-judge] [--judge-retries R] [--mode generate|logprobs|batch]
//       [--seed S] [--concurrency K] --out-dir DIR
//
// Outputs in DIR: <group>.jsonl (the group set: revised personas with their new traits and
// provenance), <group>.pool.jsonl (every kept revised persona), <group>.report.json (spec, drops
// with reasons, per-persona revision records, the comparisons with the group reference and the
// global pool), and groups.json (every group's report). Every file is written atomically and is
// byte-identical on a rerun; with --cache, a rerun after Ctrl-C or kill -9 pays for no finished
// call. The traits of the personas ("traits" objects, e.g. from `popalign export` or
// exporters::join_selection) must use the instrument's score codes (E, N, A, C, O).
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/core.h>

#include <popalign/core/error.hpp>
#include <popalign/embedding/projection_head.hpp>
#include <popalign/embedding/word_vectors.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/io/persona_record.hpp>
#include <popalign/persona/groups.hpp>
#include <popalign/psychometrics/instrument.hpp>
#include <popalign/psychometrics/reference.hpp>
#include <popalign/psychometrics/regions.hpp>
#include <popalign/psychometrics/scoring.hpp>

#include "cli/command.hpp"
#include "cli/llm_backend.hpp"

namespace {

namespace ps = popalign::persona;
namespace psy = popalign::psychometrics;
namespace emb = popalign::embedding;
using popalign::Index;

struct Opts {
  std::string personas, groups, name, query, reference = "all";
  long n = 1000, depth = 0;
  std::string instrument = "ipip50", reference_data = "big5", country_column;
  std::string reference_columns, reference_id_column;
  std::string head, word_vectors;
  std::string judge_model, respondent_model, mode = "generate";
  bool no_revise = false, no_judge = false;
  int judge_retries = 1;
  long min_reference = 500;
  std::string out_dir;
  popalign::cli::LlmHttpFlags http;
};

void write_atomically(const std::filesystem::path& path, const std::string& text) {
  // io::OutputFile (docs/cli.md): a symlink in the folder is written through, not replaced.
  popalign::io::write_file_atomically(path, text);
}

std::vector<std::string> all_facts(const std::vector<popalign::io::PersonaRecord>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps) out.insert(out.end(), p.facts.begin(), p.facts.end());
  return out;
}

int run(const Opts& o) {
  // Groups.
  std::vector<ps::GroupSpec> specs;
  if (!o.groups.empty()) {
    popalign::check_argument(o.query.empty() && o.name.empty(), "--groups",
                             "give either --groups or --name/--query, not both");
    specs = ps::read_group_specs(o.groups);
  } else {
    popalign::check_argument(!o.name.empty(), "--name", "is required without --groups");
    popalign::check_argument(!o.query.empty(), "--query", "is required without --groups");
    ps::GroupSpec g;
    g.name = o.name;
    g.query = o.query;
    try {
      g.reference = ps::ReferenceFilter::parse(o.reference);
    } catch (const popalign::InvalidArgument& e) {
      throw popalign::cli::as_flag(e, "--reference");
    }
    g.n = o.n;
    g.depth = o.depth;
    popalign::cli::validate_as_flags([&] { g.validate(); }, {{"reference.region", "--reference"},
                                                             {"reference.countries", "--reference"},
                                                             {"reference.column", "--reference"}});
    specs.push_back(g);
  }
  popalign::check_argument(!o.out_dir.empty(), "--out-dir", "is required");

  // Personas, instrument, reference.
  popalign::io::PersonaReadOptions read_options;
  read_options.log = [](const std::string& m) { popalign::cli::warn(m); };
  const auto pool = popalign::io::read_personas(o.personas, read_options).personas;
  if (pool.empty()) throw popalign::IoError(o.personas, 0, "no personas in the file");
  const psy::Instrument instrument = psy::resolve_instrument(o.instrument);
  psy::ReferenceData data;
  std::unique_ptr<popalign::io::Table> columns;
  if (o.reference_data == "big5") {
    data = psy::load_big5();
  } else {
    psy::ReferenceCsvOptions ro;
    ro.country_column = o.country_column;
    ro.id_column = o.reference_id_column;
    data = psy::load_reference_csv(o.reference_data, ro, &instrument);
  }
  psy::clean_reference(data, instrument);
  const psy::ScoreResult ref_scores = psy::score(instrument, data.responses);
  for (const auto& g : specs)
    if (g.reference.kind == ps::ReferenceFilter::Kind::column) {
      const std::string file = o.reference_columns.empty()
                                   ? (o.reference_data == "big5" ? "" : o.reference_data)
                                   : o.reference_columns;
      popalign::check_argument(!file.empty(), "--reference-columns",
                               "a column filter on the BIG5 reference needs the table holding the "
                               "column (--reference-columns FILE.csv)");
      if (!columns) columns = std::make_unique<popalign::io::Table>(popalign::io::read_table(file));
    }
  const psy::RegionMap regions = psy::RegionMap::load_default();
  // The pool's traits, checked here so that an error names the persona file and line.
  (void)ps::persona_traits(pool, ref_scores.scores.traits, o.personas);

  // Embedder: GloVe SIF fitted on the pool (retrieve's default), optionally with a head.
  const std::string wv = o.word_vectors.empty() ? emb::default_word_vectors_path() : o.word_vectors;
  std::shared_ptr<const emb::Embedder> embedder =
      emb::make_sif_embedder(wv, "", all_facts(pool), emb::SifOptions{});
  if (!o.head.empty()) {
    emb::ProjectionHead head = emb::ProjectionHead::load(o.head);
    try {
      embedder = std::make_shared<emb::ProjectedEmbedder>(embedder, std::move(head));
    } catch (const popalign::InvalidArgument& e) {
      throw popalign::cli::as_flag(e, "--head", o.head);
    }
  }

  // Options.
  ps::GroupOptions go;
  go.seed = o.http.seed;
  go.revise = !o.no_revise;
  go.judge = !o.no_judge;
  go.judge_retries = o.judge_retries;
  go.revise_model = o.http.model;
  go.judge_model = o.judge_model;
  go.administer.model = o.respondent_model;
  go.administer.mode = popalign::administer::administer_mode_from_string(o.mode);
  go.min_reference_rows = o.min_reference;
  go.batch.chunk_size = 4 * o.http.concurrency;
  popalign::cli::validate_as_flags(
      [&] { go.validate(); },
      {{"judge_retries", "--judge-retries"}, {"min_reference_rows", "--min-reference"}});

  popalign::CancellationToken cancel;
  go.execution.cancel = cancel;
  const std::shared_ptr<popalign::llm::LlmBackend> backend =
      popalign::cli::make_llm_backend(o.http, cancel);
  const popalign::cli::CancelOnSignal on_signal(cancel);
  std::filesystem::create_directories(o.out_dir);
  const std::filesystem::path dir(o.out_dir);
  popalign::io::JsonValue all = popalign::io::JsonValue::array();
  for (const ps::GroupSpec& g : specs) {
    const std::vector<Index> rows =
        ps::group_reference_rows(data, g.reference, regions, columns.get(), o.reference_id_column);
    ps::GroupReference ref;
    ref.description = fmt::format("{} ({} people)", g.reference.to_string(), rows.size());
    ref.traits.traits = ref_scores.scores.traits;
    ref.traits.values.resize(static_cast<Index>(rows.size()), ref_scores.scores.values.cols());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      ref.traits.ids.push_back(ref_scores.scores.ids[static_cast<std::size_t>(rows[i])]);
      ref.traits.values.row(static_cast<Index>(i)) = ref_scores.scores.values.row(rows[i]);
    }
    if (rows.size() < 2)
      throw popalign::InvalidArgument(
          "--reference",
          fmt::format("group '{}': {} selects {} people", g.name, ref.description, rows.size()));
    fmt::print(stderr, "group {}: \"{}\", reference {}, N {}, depth {}\n", g.name, g.query,
               ref.description, g.n, g.resolved_depth());
    const ps::GroupResult r =
        ps::build_group(pool, embedder, {backend.get(), nullptr, nullptr}, instrument, ref, g, go);
    if (r.status == "cancelled") {
      fmt::print(stderr, "group: interrupted; run the same command again to resume\n");
      return 130;
    }
    std::string set, kept;
    for (const auto& p : r.personas) set += popalign::io::persona_line(p) + "\n";
    for (const auto& p : r.pool) kept += popalign::io::persona_line(p) + "\n";
    write_atomically(dir / (g.name + ".jsonl"), set);
    write_atomically(dir / (g.name + ".pool.jsonl"), kept);
    popalign::io::JsonValue report = ps::group_report_json(r);
    write_atomically(dir / (g.name + ".report.json"), report.dump() + "\n");
    all.push_back(std::move(report));
    fmt::print("{}", r.summary());
    fmt::print(stderr,
               "calls: revise {} ({} cached), judge {} ({} cached), administer {} ({} cached)\n",
               r.revise_calls.calls, r.revise_calls.cached_calls, r.judge_calls.calls,
               r.judge_calls.cached_calls, r.administer_calls, r.administer_cached_calls);
  }
  write_atomically(dir / "groups.json", all.dump() + "\n");
  return 0;
}

popalign::cli::CommandRegistrar registrar{
    "group", "Build group-specific persona sets from an aligned persona file", [](CLI::App& sub) {
      auto o = std::make_shared<Opts>();
      sub.add_option("--personas", o->personas, "aligned personas (JSONL with \"traits\")")
          ->required();
      sub.add_option("--groups", o->groups, "group specs (JSON array or JSON Lines)");
      sub.add_option("--name", o->name, "one group: its name");
      sub.add_option("--query", o->query, "one group: its description");
      sub.add_option("--reference", o->reference,
                     "one group: region:NAME | country:A,B | column:NAME=VALUE | all")
          ->capture_default_str();
      sub.add_option("--n", o->n, "one group: personas in the set")->capture_default_str();
      sub.add_option("--depth", o->depth, "one group: personas retrieved (0 = 3 N)")
          ->capture_default_str();
      sub.add_option("--instrument", o->instrument, "instrument name or JSON file")
          ->capture_default_str();
      sub.add_option("--reference-data", o->reference_data, "big5 or a CSV of item responses")
          ->capture_default_str();
      sub.add_option("--country-column", o->country_column, "country column of --reference-data");
      sub.add_option("--reference-columns", o->reference_columns,
                     "CSV holding a column-filter's column (default: --reference-data)");
      sub.add_option("--reference-id-column", o->reference_id_column,
                     "id column joining --reference-columns to the reference rows");
      sub.add_option("--min-reference", o->min_reference,
                     "warn when a group reference has fewer people")
          ->capture_default_str();
      sub.add_option("--head", o->head, "projection head for retrieval (default: none)");
      sub.add_option("--word-vectors", o->word_vectors, "word vectors (default: shipped GloVe)");
      sub.add_option("--base-url", o->http.base_url, "OpenAI-compatible server")->required();
      sub.add_option("--model", o->http.model, "reviser model (and judge / respondent default)");
      sub.add_option("--judge-model", o->judge_model, "judge model (default: --model)");
      sub.add_option("--respondent-model", o->respondent_model,
                     "model answering the instrument (default: --model)");
      sub.add_option("--api-key-env", o->http.api_key_env, "environment variable of the API key")
          ->capture_default_str();
      sub.add_option("--cache", o->http.cache, "SQLite LLM cache (resume without paying again)");
      sub.add_option("--concurrency", o->http.concurrency, "calls in flight")
          ->capture_default_str();
      sub.add_option("--timeout", o->http.timeout_seconds, "seconds per call")
          ->capture_default_str();
      sub.add_option("--http-attempts", o->http.attempts, "HTTP attempts per call")
          ->capture_default_str();
      sub.add_option("--seed", o->http.seed, "seed of every call and of the alignment")
          ->capture_default_str();
      sub.add_flag("--no-revise", o->no_revise, "use the retrieved personas as they are");
      sub.add_flag("--no-judge", o->no_judge, "keep every usable revision");
      sub.add_option("--judge-retries", o->judge_retries, "revisions after a failed verdict")
          ->capture_default_str();
      sub.add_option("--mode", o->mode, "administering mode: generate, logprobs, batch")
          ->capture_default_str();
      sub.add_option("--out-dir", o->out_dir, "output folder")->required();
      return popalign::cli::Action([o] { return run(*o); });
    }};

}  // namespace
