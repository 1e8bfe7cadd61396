#!/usr/bin/env bash
# Format and lint checks (run by scripts/test.sh after the build; fails on new findings).
#
#   scripts/lint.sh                      format check + clang-tidy (fast set, see below)
#   scripts/lint.sh --fix                reformat every C++ file in place (clang-format -i)
#   scripts/lint.sh --changed            clang-tidy also over the .cpp files changed against main
#   scripts/lint.sh --all                clang-tidy over every translation unit (slow)
#   scripts/lint.sh --update-baseline    rewrite the clang-tidy baseline from this run
#   scripts/lint.sh --format-only | --tidy-only
#   BUILD=build/debug scripts/lint.sh    another build tree (default build/release)
#
# Format: clang-format-14 --dry-run --Werror over every C++ file of include/ src/ tests/
# benchmarks/ examples/ (tracked or new, not ignored) with the committed .clang-format. There is
# no baseline and no exemption: a file that is not formatted fails, and --fix formats it.
#
# clang-tidy (clang-tidy-14, the checks of the committed .clang-tidy, compile commands from
# <build>/compile_commands.json, which the CMake presets export). The default (fast) set is
# <build>/lint/all_headers.cpp, one translation unit that includes every public header
# (cmake/popalignLint.cmake), so the whole header-mostly library (include/popalign/**, where
# .clang-tidy's HeaderFilterRegex reports findings) is checked in one pass. --changed adds every
# .cpp changed against the merge base with the branch `main` (before a merge request); --all
# checks every translation unit of the build (a clang-tidy run costs ~10 s of CPU per
# translation unit, so these are not run by scripts/test.sh). Findings that already existed are
# listed in scripts/lint/clang_tidy_baseline.txt, one per line as `path|check|message` (no line
# numbers, so edits elsewhere in a file do not turn them into new ones; a finding that occurs k
# times is listed k times). Only findings beyond the baseline fail the run. Fixing one is
# welcome: run --update-baseline (with the same or a larger set) to drop it from the list; the
# file only ever shrinks in review, a change that adds to it needs a reason.
set -euo pipefail
export LC_ALL=C
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
build="${BUILD:-build/release}"
baseline="scripts/lint/clang_tidy_baseline.txt"
jobs="${LINT_JOBS:-2}"
fix=0 all=0 changed=0 update=0 do_format=1 do_tidy=1
for arg in "$@"; do
  case "$arg" in
    --fix) fix=1 ;;
    --all) all=1 ;;
    --changed) changed=1 ;;
    --update-baseline) update=1 ;;
    --format-only) do_tidy=0 ;;
    --tidy-only) do_format=0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "lint: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
for tool in clang-format-14 clang-tidy-14; do
  command -v "$tool" >/dev/null || { echo "lint: $tool not found (apt-get install ${tool})" >&2; exit 2; }
done
status=0
start=$SECONDS

# ---- format ----------------------------------------------------------------------------------
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- include src tests \
  benchmarks examples | grep -E '\.(cpp|hpp|h|cc)$' | while read -r f; do [[ -f "$f" ]] && echo "$f"; done)
if ((fix)); then
  printf '%s\0' "${files[@]}" | xargs -0 -n 16 -P "$jobs" clang-format-14 -i
  echo "lint: formatted ${#files[@]} files"
  exit 0
fi
if ((do_format)); then
  # One line per file that is not formatted (short writes: parallel jobs do not interleave).
  unformatted=$(printf '%s\0' "${files[@]}" | xargs -0 -n 1 -P "$jobs" sh -c \
    'clang-format-14 --dry-run --Werror "$1" >/dev/null 2>&1 || echo "$1"' sh | sort || true)
  if [[ -n "$unformatted" ]]; then
    n=$(wc -l <<<"$unformatted")
    echo "lint: $n of ${#files[@]} files are not formatted (scripts/lint.sh --fix formats them):"
    sed 's/^/  /' <<<"$unformatted"
    status=1
  else
    echo "lint: format ok (${#files[@]} files)"
  fi
fi

# ---- clang-tidy ------------------------------------------------------------------------------
if ((do_tidy)); then
  db="$build/compile_commands.json"
  if [[ ! -f "$db" ]]; then
    echo "lint: $db not found: configure with a CMake preset first (cmake --preset release)" >&2
    exit 2
  fi
  if ((all)); then
    mapfile -t units < <(grep -oE '"file": *"[^"]+"' "$db" | sed -E 's/"file": *"([^"]+)"/\1/' |
      grep -E '\.cpp$' | sort -u)
  else
    units=("$here/$build/lint/all_headers.cpp")
    [[ -f "${units[0]}" ]] || { echo "lint: ${units[0]} missing: reconfigure $build" >&2; exit 2; }
    if ((changed)) && git rev-parse --verify -q main >/dev/null; then
      base=$(git merge-base HEAD main)
      while read -r f; do
        [[ -f "$f" ]] && grep -qF "\"$here/$f\"" "$db" && units+=("$here/$f")
      done < <({ git diff --name-only "$base"; git ls-files --others --exclude-standard; } |
               grep -E '\.cpp$' | sort -u)
    fi
  fi
  raw=$(mktemp)
  trap 'rm -f "$raw"' EXIT
  printf '%s\0' "${units[@]}" | xargs -0 -n 1 -P "$jobs" clang-tidy-14 -p "$build" --quiet \
    --extra-arg=-Wno-unknown-warning-option >"$raw" 2>/dev/null || true
  # path|check|message, one line per distinct finding (a header's finding is reported once per
  # translation unit that includes it: count it once).
  current=$(grep -E '^/[^:]+:[0-9]+:[0-9]+: (warning|error): .* \[[^]]+\]$' "$raw" |
    sed -E "s|^$here/||" | sort -u |
    sed -E 's/^([^:]+):[0-9]+:[0-9]+: (warning|error): (.*) \[([^]]+)\]$/\1|\4|\3/' | sort || true)
  if ((update)); then
    printf '%s\n' "$current" | sed '/^$/d' >"$baseline"
    echo "lint: wrote $(wc -l <"$baseline") findings to $baseline (${#units[@]} translation units)"
  else
    new=$(comm -13 <(sort "$baseline") <(printf '%s\n' "$current" | sed '/^$/d') || true)
    if [[ -n "$new" ]]; then
      echo "lint: clang-tidy found $(wc -l <<<"$new") new finding(s) in ${#units[@]} translation unit(s):"
      # Show them with their locations.
      while IFS='|' read -r path check msg; do
        grep -F "$path:" "$raw" | grep -F "[$check]" | grep -F -- "$msg" | head -1 | sed "s|^$here/|  |"
      done <<<"$new"
      status=1
    else
      echo "lint: clang-tidy ok (${#units[@]} translation unit(s), $(printf '%s\n' "$current" | sed '/^$/d' | wc -l) known finding(s) in the baseline)"
    fi
  fi
fi
echo "lint: $((SECONDS - start)) s"
exit $status
