#!/usr/bin/env bash
# Produces docs/results.md: SST-2 + CoNLL-2003 NER (from ../shared/corpora),
# a MINI encoder trained from scratch, single-task baselines and the
# multi-task model under equal, uncertainty, GradNorm and PCGrad weighting,
# plus the trainer's throughput on real data next to the model core's
# training-step benchmark at the same size.
#
#   scripts/results.sh                  # every run of scripts/results/runs.tsv
#   ONLY="mt-equal mt-pcgrad" scripts/results.sh   # some of them (the page lists all that exist)
#
# Each run has a wall-time budget (BUDGET, default 30m, enforced with
# train --time-limit) and the step count of its row in runs.tsv, sized to fit
# the budget. JOBS runs go at a time (default 2), each on nproc/JOBS cores:
# on 2 cores two one-core runs get more work done than one two-core run,
# because the small dynamic-padded batches do not keep two BLAS threads busy.
# THREADS overrides the cores per run (JOBS=1 THREADS=1 queues runs on one
# core while another invocation uses the other). A run whose summary.json
# exists is not repeated (FORCE=1 repeats it).
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${BUDGET:-30m}
JOBS=${JOBS:-2}
EVALS=${EVALS:-8}
# RUNS, OUT and JOB may be set to run another table's rows with the same
# machinery (scripts/results-aux.sh does, with NO_PAGE=1: runs only).
RUNS=${RUNS:-scripts/results/runs.tsv}
OUT=${OUT:-out/results}
JOB=${JOB:-scripts/results/job.yaml}
THREADS=${THREADS:-$(( $(nproc) / JOBS ))}; [ "$THREADS" -ge 1 ] || THREADS=1
mkdir -p "$OUT/runs"
go build -tags openblas -o "$OUT/taskweave" ./cmd/taskweave
TW=$OUT/taskweave

if [ ! -f "$OUT/data/manifest.json" ]; then
  "$TW" preprocess --config "$JOB"
fi

run() {
  local label=$1 steps=$2; shift 2
  local dir=$OUT/runs/$label
  local every=$(( steps / EVALS ))
  rm -rf "$dir"
  echo "== $label: taskweave train --steps $steps --eval-every $every --time-limit $BUDGET $* ($THREADS core(s))"
  echo "start $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" >"$dir.load"
  if ! GOMAXPROCS=$THREADS OPENBLAS_NUM_THREADS=$THREADS "$TW" train --config "$JOB" --out "$dir" --quiet \
      --steps "$steps" --eval-every "$every" --time-limit "$BUDGET" "$@" 2>"$dir.log" >"$dir.out"; then
    echo "!! $label failed:"; tail -20 "$dir.log"; return 1
  fi
  echo "end   $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$dir.load"
  echo "== $label: $(cat "$dir.out")"
}

labels=()
declare -A row
while IFS=$'\t' read -r label steps flags; do
  case $label in ''|'#'*) continue ;; esac
  labels+=("$label")
  row[$label]="$steps $flags"
done <"$RUNS"
failed=0
# ONLY's order is the queue's order.
for label in ${ONLY:-${labels[*]}}; do
  [ -n "${row[$label]:-}" ] || { echo "!! $label is not a run of $RUNS"; exit 1; }
  read -r steps flags <<<"${row[$label]}"
  # A run stopped by a signal writes a summary too, but is not a result.
  if [ -f "$OUT/runs/$label/summary.json" ] && ! grep -q '"stopped": "interrupted"' "$OUT/runs/$label/summary.json" &&
    [ -z "${FORCE:-}" ]; then
    echo "== $label: kept (summary.json exists)"; continue
  fi
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || failed=1; done
  # shellcheck disable=SC2086 # flags are words
  run "$label" "$steps" $flags &
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || failed=1; done
[ "$failed" = 0 ] || { echo "!! a run failed"; exit 1; }
[ -z "${NO_PAGE:-}" ] || exit 0

# Throughput: the trainer on the real shards with every batch padded to
# 32 × 128 (the benchmark's shape), then the model core's benchmark, back to
# back on both cores with nothing else running. SKIP_THROUGHPUT=1 leaves it
# out (the page then says it was not measured), for a page written while
# other runs still hold the machine.
TP=$OUT/throughput
throughput="Not measured when this page was written (SKIP_THROUGHPUT: other runs held the machine)."
if [ -z "${SKIP_THROUGHPUT:-}" ]; then
  if [ ! -f "$TP/summary.json" ] || [ ! -s "$OUT/bench.log" ] || [ -n "${FORCE:-}" ]; then
    rm -rf "$TP"
    echo "== throughput: trainer, 40 steps at 32x128"
    "$TW" train --config "$JOB" --out "$TP" --quiet --pad-to 128 --steps 40 --eval-every 1000000 2>"$TP.log"
    echo "== throughput: BenchmarkTrainMini"
    go test -run '^$' -bench 'BenchmarkTrainMini$' -benchtime 5x -tags openblas ./model/ >"$OUT/bench.log"
  fi
  trainer_tps=$(sed -n 's/.*"padded_tokens_per_sec": \([0-9.]*\).*/\1/p' "$TP/summary.json" | head -1)
  bench=$(sed -n 's/.* \([0-9.]*\) tokens\/s.*/\1/p' "$OUT/bench.log" | head -1)
  ratio=$(awk -v a="$trainer_tps" -v b="$bench" 'BEGIN { printf "%.3f", a / b }')
  throughput="Measured after the runs, on both cores with nothing else running.

| measurement | tokens/s (32 × 128 batches) |
|---|---:|
| trainer on the real shards, \`--pad-to 128\`, 40 steps, sampled mode | $(printf '%.0f' "$trainer_tps") |
| \`BenchmarkTrainMini\` (model core: forward + backward + AdamW, same shape) | $(printf '%.0f' "$bench") |
| ratio | $ratio |"
fi

# Baselines first, then the multi-task runs in the order of runs.tsv.
rows=()
for r in sst2-only conll-only "${labels[@]}"; do
  [[ " ${rows[*]-} " == *" $r="* ]] && continue
  if [ -f "$OUT/runs/$r/summary.json" ]; then rows+=("$r=$OUT/runs/$r"); else echo "!! $r has no summary.json: left out of the table"; fi
done
table=$("$TW" results --columns sst2:accuracy,conll:entity_f1 "${rows[@]}")

cat > docs/results.md <<MD
# Results: SST-2 + CoNLL-2003 NER, MINI encoder from scratch

Produced by \`scripts/results.sh\` (BUDGET=$BUDGET, JOBS=$JOBS, EVALS=$EVALS) on $(date -u '+%Y-%m-%d %H:%M UTC'),
$(nproc) cores, OpenBLAS build (\`-tags openblas\`). Job: \`scripts/results/job.yaml\`, runs:
\`scripts/results/runs.tsv\` (MINI = L4/H256/A4, cased BERT vocabulary of 28,996, max 128 tokens,
batch 32 examples with dynamic padding and length bucketing, AdamW lr 1e-3 (5e-4 where runs.tsv says
\`--lr 5e-4\`) with 6% warm-up and linear decay, clip 1.0, dropout 0.1, equal mixture unless the row's
job says otherwise). Data: SST-2 \`train_full.tsv\` (67,349
sentences) / \`dev.tsv\` (872); CoNLL-2003 \`train.txt\` (14,041 sentences) / \`valid.txt\` (3,250).

Budget: $BUDGET of wall time per run, $JOBS runs at a time with $THREADS core(s) each. Each run's
step count is sized from a calibration of its seconds per step so that training ends inside
the budget with its learning-rate schedule complete; \`--time-limit $BUDGET\` stops a run that would
overrun (with a final evaluation; "stopped" then says time_limit). Sampled runs (single-task,
equal, uncertainty) take one task's batch per step; GradNorm and PCGrad take every task's batch
every step, and cost more per step. Dev evaluation $EVALS times per run and at the end; the
figures are those of the evaluation with the best mean of SST-2 accuracy and CoNLL entity F1
(conlleval rules) over the tasks the run trains. tokens/s counts real (unpadded) tokens per
second of training steps on one run's share of the machine (evaluation excluded); "padded"
counts batch B×T.

$table

Load averages (1, 5, 15 minutes; 2 cores) at the start and end of each run:

$(for r in "${labels[@]}"; do f=$OUT/runs/$r.load; [ -f "$f" ] && printf -- '- %s: %s\n' "$r" "$(paste -sd';' "$f")"; done)
- when this page was written: $(cut -d' ' -f1-3 /proc/loadavg)

## Trainer throughput vs the model core's benchmark

$throughput

MD
# Rows whose run directories are gone, as they were printed (see the file).
if [ -f scripts/results/earlier.md ]; then cat scripts/results/earlier.md >> docs/results.md; echo >> docs/results.md; fi
if [ -f scripts/results/notes.md ]; then cat scripts/results/notes.md >> docs/results.md; fi
echo "wrote docs/results.md"
