#!/usr/bin/env bash
# prepbench: preprocessing's wall time, rows/s, max RSS and CPU on SST-2's
# train_full.tsv (67,349 rows) replicated 1x, 10x and 100x, for an old and a
# new binary in the same run, interleaved (old, new at each size) so machine
# load hits both alike. Corpora and outputs go under $WORK (default
# /tmp/prepbench), never into the repository. Prints a Markdown table.
#
#   scripts/prepbench.sh                      # old = built at 92d341f, new = this tree
#   OLD=/path/taskweave NEW=/path/taskweave SCALES="1 10" scripts/prepbench.sh
#
# OLD_MAX (default 10) is the largest scale the old binary runs at: before
# the streaming preprocess it holds ~80 bytes per input byte, ~31 GB at 100x.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/prepbench}
SCALES=${SCALES:-"1 10 100"}
OLD_MAX=${OLD_MAX:-10}
OLD_REV=${OLD_REV:-92d341f}
SHARDS=${SHARDS:-8}
CORPORA=${CORPORA:-$root/../shared/corpora}
src=$CORPORA/sst2/train_full.tsv
vocab=$CORPORA/bert_vocab/google_cased_en_vocab.txt
mkdir -p "$WORK"

if [[ -z "${NEW:-}" ]]; then
  NEW=$WORK/taskweave-new
  (cd "$root" && go build -tags openblas -o "$NEW" ./cmd/taskweave)
fi
if [[ -z "${OLD:-}" ]]; then
  OLD=$WORK/taskweave-$OLD_REV
  if [[ ! -x $OLD ]]; then
    rm -rf "$WORK/src-$OLD_REV" && mkdir -p "$WORK/src-$OLD_REV"
    git -C "$root" archive "$OLD_REV" | tar -x -C "$WORK/src-$OLD_REV"
    (cd "$WORK/src-$OLD_REV" && go build -tags openblas -o "$OLD" ./cmd/taskweave)
  fi
fi

# corpus k: the header once, then the rows k times.
corpus() {
  local k=$1 f=$WORK/sst2-${1}x.tsv
  if [[ ! -s $f ]]; then
    { head -n 1 "$src"; for _ in $(seq "$k"); do tail -n +2 "$src"; done; } > "$f.tmp"
    mv "$f.tmp" "$f"
  fi
  echo "$f"
}

# run NAME BIN K: one timed preprocess; prints a table row.
run() {
  local name=$1 bin=$2 k=$3 f out log load rows wall rss cpu secs
  f=$(corpus "$k")
  out=$WORK/out-$name-$k
  log=$WORK/time-$name-$k.txt
  rm -rf "$out"
  load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -v "$bin" preprocess --task sst2 --type sequence_classification --format tsv \
    --train "$f" --vocab "$vocab" --out "$out" --shards "$SHARDS" --quiet --force > "$WORK/out-$name-$k.log" 2> "$log"
  rows=$(( $(wc -l < "$f") - 1 ))
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log")
  secs=$(awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }' <<< "$wall")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
  cpu=$(sed -n 's/.*Percent of CPU this job got: //p' "$log")
  printf '| %s | %sx | %s | %.1f s | %s | %s MB | %s | %s |\n' "$name" "$k" \
    "$(printf "%'d" "$rows")" "$secs" "$(printf "%'d" "$(awk -v r="$rows" -v s="$secs" 'BEGIN { printf "%d", r / s }')")" \
    "$(( rss / 1024 ))" "$cpu" "$load"
  rm -rf "$out"
}

echo "| binary | corpus | rows | wall | rows/s | max RSS | CPU | load (1 min) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for k in $SCALES; do
  if (( k <= OLD_MAX )); then run old "$OLD" "$k"; fi
  run new "$NEW" "$k"
done
echo
echo "$(nproc) cores; $(uname -sr); $(date -u +%FT%TZ); old = $OLD, new = $NEW"
