#!/usr/bin/env bash
# Compare Baomi's scanner with ripgrep (plain text) and ripgrep-all (mixed documents) on the
# same files with the same 10,000-term list, in one run.
#
#   bench/compare.sh
#
# Builds what is missing under bench/work/ (kept between runs; delete it to start afresh):
#   text/        ≥ 200 MB of generated Chinese official prose (bench/gen_text.py)
#   terms.txt    the 10,000-term list (the same one the criterion bench uses)
#   mixed/       tests/corpus/make.sh output copied COPIES times, plus part of text/
#   bin/rga      ripgrep-all, `cargo install ripgrep_all --locked` (own target dir)
# and the release binary of baomi (cargo build --release -p baomi; BAOMI_BIN overrides).
#
# Timings: hyperfine if installed (median of RUNS after one warm-up run), else /usr/bin/time
# (median of RUNS). Peak RSS from one extra `/usr/bin/time -f %M` run per command: the peak
# of the largest single process (rga's pandoc/pdftotext children are not summed).
# Ratio = other_time / baomi_time: ≥ 1.0 means baomi is faster.
#
# Knobs (environment): TEXT_MB=200 COPIES=20 MIXED_TEXT_FILES=10 RUNS=3 RGA_RUNS=2.
# Needs: python3, rg, cargo, GNU time (apt-get install -y time), pandoc and pdftotext for rga
# (apt-get install -y pandoc poppler-utils); hyperfine optional (apt-get install -y hyperfine).
set -euo pipefail

die() {
    echo "compare.sh: $*" >&2
    exit 1
}
say() { echo "compare.sh: $*" >&2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
work=$here/work
TEXT_MB=${TEXT_MB:-200}
COPIES=${COPIES:-20}
MIXED_TEXT_FILES=${MIXED_TEXT_FILES:-10}
RUNS=${RUNS:-3}
RGA_RUNS=${RGA_RUNS:-2}

for tool in python3 rg cargo pandoc pdftotext; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
done
[[ -x /usr/bin/time ]] || die "missing GNU time at /usr/bin/time (apt-get install -y time)"
mkdir -p "$work/bin" "$work/results"
export PATH="$work/bin:$PATH"

# --- Inputs ---------------------------------------------------------------------------------
# A stamp file records what a finished generation produced, so an interrupted one is redone.
text_stamp="$work/text.done"
if [[ ! -f $text_stamp || $(cat "$text_stamp") != "$TEXT_MB" ]]; then
    say "generating $TEXT_MB MB of text in $work/text"
    rm -rf "$work/text" "$text_stamp"
    python3 "$here/gen_text.py" text "$work/text" "$TEXT_MB"
    echo "$TEXT_MB" >"$text_stamp"
fi
terms=$work/terms.txt
if [[ ! -s $terms ]]; then
    python3 "$here/gen_text.py" terms "$terms.tmp" 10000
    mv "$terms.tmp" "$terms"
fi

mixed_stamp="$work/mixed.done"
mixed_spec="$COPIES copies, $MIXED_TEXT_FILES text files, text $TEXT_MB"
if [[ ! -f $mixed_stamp || $(cat "$mixed_stamp") != "$mixed_spec" ]]; then
    say "building the mixed document tree in $work/mixed ($mixed_spec)"
    rm -rf "$work/mixed" "$work/corpus" "$mixed_stamp"
    "$repo/tests/corpus/make.sh" "$work/corpus"
    # bomb.zip is left out: rga has no expansion limit and would inflate its ≈1 TB.
    mkdir -p "$work/mixed"
    for ((copy = 1; copy <= COPIES; copy++)); do
        dir=$(printf '%s/mixed/copy-%03d' "$work" "$copy")
        mkdir -p "$dir"
        find "$work/corpus" -maxdepth 1 -type f ! -name bomb.zip -exec cp -t "$dir" {} +
    done
    mkdir -p "$work/mixed/text"
    find "$work/text" -name 'doc-*.txt' | sort | head -n "$MIXED_TEXT_FILES" \
        | xargs -r cp -t "$work/mixed/text"
    echo "$mixed_spec" >"$mixed_stamp"
fi

if [[ ! -x $work/bin/rga ]]; then
    say "installing ripgrep-all into $work/bin (a few minutes)"
    CARGO_TARGET_DIR=$(mktemp -d "${TMPDIR:-/tmp}/rga-target.XXXXXX") \
        cargo install ripgrep_all --locked --root "$work" >"$work/rga-install.log" 2>&1 \
        || { tail -20 "$work/rga-install.log" >&2; die "cargo install ripgrep_all failed"; }
fi

if [[ -n ${BAOMI_BIN:-} ]]; then
    baomi=$BAOMI_BIN
else
    say "building baomi (release)"
    (cd "$repo" && cargo build --release -p baomi --quiet)
    baomi=${CARGO_TARGET_DIR:-$repo/target}/release/baomi
fi
[[ -x $baomi ]] || die "no baomi binary at $baomi"

# --- Measuring ------------------------------------------------------------------------------
have_hyperfine=false
command -v hyperfine >/dev/null && have_hyperfine=true

# median_wall NAME RUNS PREPARE COMMAND → prints the median wall time in seconds.
# PREPARE (may be empty) runs before every timed run and is not timed.
median_wall() {
    local name=$1 runs=$2 prepare=$3 command=$4
    if $have_hyperfine; then
        local json=$work/results/$name.json
        local args=(--style basic --ignore-failure --warmup 1 --runs "$runs" --export-json "$json")
        [[ -n $prepare ]] && args+=(--prepare "$prepare")
        hyperfine "${args[@]}" -n "$name" "$command" >&2
        python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$json"
    else
        local run times=()
        bash -c "$command" >/dev/null 2>&1 || true # warm-up: page cache
        for ((run = 0; run < runs; run++)); do
            if [[ -n $prepare ]]; then bash -c "$prepare"; fi
            /usr/bin/time -f %e -o "$work/results/$name.time" bash -c "$command" || true
            times+=("$(tail -1 "$work/results/$name.time")")
        done
        printf '%s\n' "${times[@]}" | sort -g | awk '{v[NR]=$1} END {printf "%.3f\n", v[int((NR+1)/2)]}'
    fi
}

# peak_rss_mb NAME PREPARE COMMAND → peak resident set of the largest process, in MB.
peak_rss_mb() {
    local name=$1 prepare=$2 command=$3
    if [[ -n $prepare ]]; then bash -c "$prepare"; fi
    /usr/bin/time -f %M -o "$work/results/$name.rss" bash -c "exec $command" || true
    awk '{kb=$1} END {printf "%.0f\n", kb/1024}' "$work/results/$name.rss"
}

ratio() { awk -v other="$1" -v baomi="$2" 'BEGIN {printf "%.2f\n", (baomi > 0 ? other/baomi : 0)}'; }

# Count the keyword occurrences in baomi's JSON, whatever its exact shape (one document or one
# JSON value per line): every object whose "kind" is "keyword" counts its "count" (default 1;
# baomi reports a term once per part with the number of occurrences).
count_keywords() {
    python3 - "$1" <<'EOF'
import json, sys
def values(path):
    with open(path, encoding="utf-8") as src:
        text = src.read()
    try:
        yield json.loads(text)
    except ValueError:
        for line in text.splitlines():
            if line.strip():
                yield json.loads(line)
def count(node):
    if isinstance(node, dict):
        own = node.get("count", 1) if node.get("kind") == "keyword" else 0
        return own + sum(count(v) for v in node.values() if isinstance(v, (dict, list)))
    if isinstance(node, list):
        return sum(count(v) for v in node)
    return 0
try:
    print(sum(count(v) for v in values(sys.argv[1])))
except Exception as error:  # the CLI's format is not this script's business: report, go on
    print(f"n/a ({type(error).__name__})")
EOF
}

# Sanity runs: each tool must actually work on the inputs before its time means anything.
# baomi may exit non-zero when it finds something; only an empty output is a failure.
sanity_baomi() {
    local target=$1 out=$work/results/baomi-$2.json
    "$baomi" scan "$target" --dict "$terms" --format json >"$out" 2>"$out.stderr" || true
    [[ -s $out ]] || { cat "$out.stderr" >&2; die "baomi produced no output on $target"; }
    count_keywords "$out"
}
sum_counts() { awk -F: '{s += $NF} END {print s + 0}'; }

bytes_mb() { du -sb "$1" | awk '{printf "%.0f", $1/1e6}'; }
file_count() { find "$1" -type f | wc -l; }

# --- (a) plain text: baomi vs ripgrep --------------------------------------------------------
text_dir=$work/text
say "(a) $(bytes_mb "$text_dir") MB text, $(wc -l <"$terms") terms: baomi vs rg"
baomi_text_cmd="'$baomi' scan '$text_dir' --dict '$terms' --format json >/dev/null 2>&1"
rg_text_cmd="rg --count-matches -F -f '$terms' '$text_dir' >/dev/null"

baomi_text_hits=$(sanity_baomi "$text_dir" text)
rg_text_hits=$(rg --count-matches -F -f "$terms" "$text_dir" | sum_counts) || true
baomi_text_s=$(median_wall baomi-text "$RUNS" "" "$baomi_text_cmd")
rg_text_s=$(median_wall rg-text "$RUNS" "" "$rg_text_cmd")
baomi_text_rss=$(peak_rss_mb baomi-text "" "$baomi_text_cmd")
rg_text_rss=$(peak_rss_mb rg-text "" "$rg_text_cmd")

# --- (b) mixed documents: baomi vs ripgrep-all, rga's cache empty on every run ---------------
mixed_dir=$work/mixed
rga_cache=$work/rga-cache
say "(b) mixed tree $(file_count "$mixed_dir") files, $(bytes_mb "$mixed_dir") MB: baomi vs rga (uncached)"
baomi_mixed_cmd="'$baomi' scan '$mixed_dir' --dict '$terms' --format json >/dev/null 2>&1"
# rga 0.10's --rga-no-cache fails every adapter ("No cache?"): use a fresh cache path instead.
rga_prepare="rm -rf '$rga_cache'"
rga_mixed_cmd="rga --rga-cache-path='$rga_cache' --count-matches -F -f '$terms' '$mixed_dir' >/dev/null 2>&1"

baomi_mixed_hits=$(sanity_baomi "$mixed_dir" mixed)
rm -rf "$rga_cache"
rga_mixed_hits=$(rga --rga-cache-path="$rga_cache" --count-matches -F -f "$terms" "$mixed_dir" \
    2>"$work/results/rga-mixed.stderr" | sum_counts) || true
baomi_mixed_s=$(median_wall baomi-mixed "$RUNS" "" "$baomi_mixed_cmd")
rga_mixed_s=$(median_wall rga-mixed "$RGA_RUNS" "$rga_prepare" "$rga_mixed_cmd")
baomi_mixed_rss=$(peak_rss_mb baomi-mixed "" "$baomi_mixed_cmd")
rga_mixed_rss=$(peak_rss_mb rga-mixed "$rga_prepare" "$rga_mixed_cmd")

# --- Report ---------------------------------------------------------------------------------
timer=$($have_hyperfine && echo "hyperfine $(hyperfine --version | awk '{print $2}'), median of runs after 1 warm-up" \
    || echo "/usr/bin/time, median of runs")
cat <<EOF

### Results ($(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))

Timer: $timer. Ratio = other tool's time / baomi's time (≥ 1.0: baomi is faster).
Tools: $("$baomi" --version 2>/dev/null || echo baomi), $(rg --version | sed -n 1p), $(rga --version | sed -n 1p).

| Workload | Files | MB | baomi (s) | other | other (s) | ratio | baomi RSS (MB) | other RSS (MB) | hits baomi / other |
|---|---:|---:|---:|---|---:|---:|---:|---:|---|
| plain text, 10k terms | $(file_count "$text_dir") | $(bytes_mb "$text_dir") | $baomi_text_s | rg -F | $rg_text_s | $(ratio "$rg_text_s" "$baomi_text_s") | $baomi_text_rss | $rg_text_rss | $baomi_text_hits / $rg_text_hits |
| mixed documents, 10k terms | $(file_count "$mixed_dir") | $(bytes_mb "$mixed_dir") | $baomi_mixed_s | rga (uncached) | $rga_mixed_s | $(ratio "$rga_mixed_s" "$baomi_mixed_s") | $baomi_mixed_rss | $rga_mixed_rss | $baomi_mixed_hits / $rga_mixed_hits |

Hits: baomi's \`keyword\` findings vs the tool's summed \`--count-matches\`. They differ by
design (baomi normalises Traditional to Simplified and reads inside documents rga cannot
open); a large gap in the other direction means baomi missed text.
EOF
