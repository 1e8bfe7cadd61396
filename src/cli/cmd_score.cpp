// `popalign score`: item responses (CSV/TSV, or the JSONL written by `popalign administer`)
// -> CSV with `id` and one column per trait (and facet with --facets). The per-trait report
// (items, mean, sd, Cronbach's alpha, rows without a score) goes to stderr.
// For human reference data (CSV/TSV), --clean applies the documented cleaning rules
// (docs/data.md) and --group keeps the rows of a region or list of countries.
#include <fmt/core.h>

#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include <popalign/io/csv.hpp>
#include <popalign/psychometrics/instrument.hpp>
#include <popalign/psychometrics/reference.hpp>
#include <popalign/psychometrics/regions.hpp>
#include <popalign/psychometrics/scoring.hpp>

#include "cli/command.hpp"

namespace {

struct ScoreOpts {
  std::string instrument;
  std::string responses;
  std::string id_column;
  std::optional<double> missing_code;
  double min_answered = 0.5;
  bool facets = false;
  bool facets_only = false;
  bool names = false;
  bool require_all = false;
  bool skip_malformed = false;
  std::string out;
  bool quiet = false;
  bool clean = false;
  std::string group;
  std::string country_column = "country";
  std::string age_column;
};

bool is_jsonl(const std::string& path) {
  return path.ends_with(".jsonl") || path.ends_with(".ndjson");
}

/// A whole number outside the scale is usually a codebook's "not answered" code (BIG5 and
/// IPIP-FFM: 0). Without --missing-code, the error says how to read it as missing; the message
/// keeps the file, line and column of the answer.
popalign::psychometrics::OutOfScaleAnswer with_missing_code_hint(
    const popalign::psychometrics::OutOfScaleAnswer& e, const ScoreOpts& o) {
  const double x = e.value();
  if (o.missing_code || !std::isfinite(x) || x != std::round(x) || std::abs(x) > 1e15) return e;
  const auto code = static_cast<long long>(x);
  return popalign::psychometrics::OutOfScaleAnswer(
      fmt::format("{}; if {} means 'not answered' (as in the BIG5 and IPIP-FFM codebooks, where a "
                  "skipped item is 0), --missing-code {} reads it as missing",
                  e.message(), code, code),
      e.row(), e.column(), x);
}

int run(const ScoreOpts& o) {
  namespace ps = popalign::psychometrics;
  const ps::Instrument instrument = ps::resolve_instrument(o.instrument);
  ps::ReadResponsesOptions ro;
  ro.id_column = o.id_column;
  ro.missing_code = o.missing_code;
  ro.require_all_items = o.require_all;
  ro.on_malformed =
      o.skip_malformed ? popalign::io::OnMalformed::skip : popalign::io::OnMalformed::fail;
  // Ids must map scores back to rows: a repeated id is an error naming both lines, as in every
  // command (io::check_unique_ids; docs/cli.md).
  const std::string id_name = o.id_column.empty() ? "id" : o.id_column;
  ps::Responses responses;
  if (!o.clean && o.group.empty()) {
    responses = ps::read_responses(o.responses, instrument, ro);
    popalign::io::check_unique_ids(o.responses, responses.ids, responses.lines, id_name);
  } else {
    // Human reference data: responses with country (and age) per row.
    popalign::check_argument(!is_jsonl(o.responses), "--clean/--group",
                             "apply to CSV/TSV reference data, not to JSONL persona answers");
    ps::ReferenceCsvOptions rc;
    rc.id_column = o.id_column;
    rc.country_column = o.group.empty() ? std::string() : o.country_column;
    rc.age_column = o.age_column;
    rc.missing_code = o.missing_code;
    ps::ReferenceData ref = ps::load_reference_csv(o.responses, rc, &instrument);
    popalign::io::check_unique_ids(o.responses, ref.responses.ids, ref.responses.lines, id_name);
    if (o.clean) {
      ps::CleaningOptions co;
      const ps::CleaningReport rep = ps::clean_reference(ref, instrument, co);
      if (!o.quiet) fmt::print(stderr, "cleaning (docs/data.md):\n{}", rep.summary());
    }
    if (!o.group.empty()) {
      const auto filter = ps::GroupFilter::parse(o.group);
      const auto rows = ps::select_group(ref.country, ps::RegionMap::load_default(), filter);
      if (!o.quiet)
        fmt::print(stderr, "group '{}': {} of {} rows\n", o.group, rows.size(), ref.rows());
      popalign::check_argument(!rows.empty(), "--group", "no row belongs to '" + o.group + "'");
      ref = ref.select_rows(rows);
    }
    responses = std::move(ref.responses);
  }
  // Skipped lines are warnings (printed with --quiet too), worded as by every persona reader.
  for (const auto& m : responses.malformed)
    popalign::cli::warn(
        fmt::format("{}:{}: {} (line skipped, --skip-malformed)", o.responses, m.line, m.message));
  if (responses.truncated_tail)
    popalign::cli::warn(o.responses + ": the last line is incomplete (no newline); skipped");
  ps::ScoringOptions so;
  so.min_answered = o.min_answered;
  so.traits = !o.facets_only;
  so.facets = o.facets || o.facets_only;
  so.use_names = o.names;
  ps::ScoreResult result;
  try {
    result = ps::score(instrument, responses, so);
  } catch (const ps::OutOfScaleAnswer& e) {
    throw with_missing_code_hint(e, o);
  }
  popalign::io::write_trait_table(o.out, result.scores);
  if (!o.quiet) {
    fmt::print(stderr, "popalign score: instrument {} ({} items), {}\n", instrument.id,
               instrument.num_items(), o.responses);
    fmt::print(stderr, "{}", result.summary());
    fmt::print(stderr, "wrote {} rows x {} scores to {}\n", result.scores.rows(),
               result.scores.cols(), o.out);
  }
  return 0;
}

popalign::cli::CommandRegistrar registrar{
    "score", "Score item responses into trait (and facet) scores", [](CLI::App& sub) {
      auto o = std::make_shared<ScoreOpts>();
      sub.add_option("--instrument", o->instrument,
                     "Instrument JSON file, or a shipped name: ipip50, mini_ipip, neo120, "
                     "neo300 (or a file stem in data/instruments)")
          ->required();
      sub.add_option("--responses", o->responses,
                     "Item responses: CSV/TSV with one column per item (item id or an alias such "
                     "as E1 / EXT1), or JSONL {\"id\", \"answers\": {item: number|null}}")
          ->required();
      sub.add_option("--id-column", o->id_column,
                     "Column (CSV) or member (JSONL) holding the id (default: 'id' if present, "
                     "else row numbers)");
      sub.add_option("--missing-code", o->missing_code,
                     "Answer value meaning 'not answered' (BIG5 and IPIP-FFM use 0); without it, "
                     "an answer outside the scale is an error");
      sub.add_option("--min-answered", o->min_answered,
                     "Minimum share of a trait's items that must be answered, else NaN")
          ->capture_default_str()
          ->check(CLI::Range(0.0, 1.0));
      sub.add_flag("--facets", o->facets, "Also write one column per facet (after the traits)");
      sub.add_flag("--facets-only", o->facets_only, "Write facet columns only");
      sub.add_flag("--names", o->names, "Name columns by trait name instead of code");
      sub.add_flag("--require-all-items", o->require_all,
                   "Fail when an item of the instrument has no column");
      sub.add_flag("--skip-malformed", o->skip_malformed,
                   "JSONL: skip malformed lines instead of failing");
      sub.add_flag("--quiet", o->quiet, "Do not print the report to stderr");
      sub.add_flag("--clean", o->clean,
                   "Reference data: apply the cleaning rules of docs/data.md (drop rows with "
                   "answers outside the scale or any unanswered item; implausible ages "
                   "missing with --age-column) and print what each rule did");
      sub.add_option("--group", o->group,
                     "Reference data: keep the rows of a group: a region ('East Asia', "
                     "'region:Europe;Oceania') or countries ('country:US,CA'), by the "
                     "--country-column and data/regions/iso2_regions.csv");
      sub.add_option("--country-column", o->country_column, "Column with ISO-2 country codes")
          ->capture_default_str();
      sub.add_option("--age-column", o->age_column,
                     "Column with ages (for the implausible-age rule of --clean)");
      sub.add_option("--out", o->out, "Output CSV: id + one column per score")->required();
      return popalign::cli::Action([o] { return run(*o); });
    }};

}  // namespace
