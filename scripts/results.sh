#!/usr/bin/env bash
# Produces docs/results.md: SST-2 + CoNLL-2003 NER (from ../shared/corpora),
# a MINI encoder trained from scratch, single-task baselines and the
# multi-task model under equal, uncertainty, GradNorm and PCGrad weighting,
# plus the trainer's throughput on real data next to the model core's
# training-step benchmark at the same size.
#
#   STEPS=800 scripts/results.sh          # per-task batch budget of every run
#   LONG="pcgrad all 1500" STEPS=500 scripts/results.sh   # plus one longer run
#
# Every run gives each task the same number of batches: single-task runs and
# the all-tasks-per-step runs (GradNorm, PCGrad) take STEPS optimizer steps,
# the sampled runs (equal, uncertainty; equal mixture) take 2×STEPS steps of
# one task each. Runs go one after another, never in parallel. A run whose
# summary.json exists is not repeated (FORCE=1 repeats it).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-800}
EVAL_EVERY=${EVAL_EVERY:-200}
OUT=out/results
JOB=scripts/results/job.yaml
mkdir -p "$OUT/runs"
go build -tags openblas -o "$OUT/taskweave" ./cmd/taskweave
TW=$OUT/taskweave

if [ ! -f "$OUT/data/manifest.json" ]; then
  "$TW" preprocess --config "$JOB"
fi

run() {
  local label=$1; shift
  local dir=$OUT/runs/$label
  if [ -f "$dir/summary.json" ] && [ -z "${FORCE:-}" ]; then
    echo "== $label: kept (summary.json exists)"; return
  fi
  echo "== $label: taskweave train $*"
  echo "start $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" >"$dir.load"
  "$TW" train --config "$JOB" --out "$dir" --quiet --eval-every "$EVAL_EVERY" "$@" 2>"$dir.log" || { tail -20 "$dir.log"; exit 1; }
  echo "end   $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$dir.load"
  tail -1 "$dir.log"
}

run sst2-only      --tasks sst2  --steps "$STEPS"
run conll-only     --tasks conll --steps "$STEPS"
run mt-equal       --strategy equal       --step-mode sampled --steps $((2 * STEPS))
run mt-uncertainty --strategy uncertainty --step-mode sampled --steps $((2 * STEPS))
run mt-gradnorm    --strategy gradnorm    --step-mode all     --steps "$STEPS"
run mt-pcgrad      --strategy pcgrad      --step-mode all     --steps "$STEPS"

# Throughput: the trainer on the real shards with every batch padded to
# 32 × 128 (the benchmark's shape), then the model core's benchmark, back to back.
TP=$OUT/throughput
if [ ! -f "$TP/summary.json" ] || [ ! -s "$OUT/bench.log" ] || [ -n "${FORCE:-}" ]; then
  rm -rf "$TP"
  echo "== throughput: trainer, 40 steps at 32x128"
  "$TW" train --config "$JOB" --out "$TP" --quiet --pad-to 128 --steps 40 --eval-every 1000000 2>"$TP.log"
  echo "== throughput: BenchmarkTrainMini"
  go test -run '^$' -bench 'BenchmarkTrainMini$' -benchtime 5x -tags openblas ./model/ >"$OUT/bench.log"
fi
trainer_tps=$(sed -n 's/.*"padded_tokens_per_sec": \([0-9.]*\).*/\1/p' "$TP/summary.json" | head -1)
bench=$(sed -n 's/.* \([0-9.]*\) tokens\/s.*/\1/p' "$OUT/bench.log" | head -1)

# Optional: one longer run of one multi-task setting (LONG="strategy mode steps"),
# to show how far the figures move with more training than the common budget.
long_rows=()
if [ -n "${LONG:-}" ]; then
  read -r ls lm lsteps <<<"$LONG"
  run "mt-$ls-long" --strategy "$ls" --step-mode "$lm" --steps "$lsteps"
  long_rows=("mt-$ls-long=$OUT/runs/mt-$ls-long")
fi
ratio=$(awk -v a="$trainer_tps" -v b="$bench" 'BEGIN { printf "%.3f", a / b }')

rows=()
for r in sst2-only conll-only mt-equal mt-uncertainty mt-gradnorm mt-pcgrad; do
  if [ -f "$OUT/runs/$r/summary.json" ]; then rows+=("$r=$OUT/runs/$r"); else echo "!! $r has no summary.json: left out of the table"; fi
done
table=$("$TW" results --columns sst2:accuracy,conll:entity_f1 "${rows[@]}" ${long_rows[@]+"${long_rows[@]}"})

cat > docs/results.md <<MD
# Results: SST-2 + CoNLL-2003 NER, MINI encoder from scratch

Produced by \`${LONG:+LONG=\"$LONG\" }STEPS=$STEPS EVAL_EVERY=$EVAL_EVERY scripts/results.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'),
$(nproc) cores, OpenBLAS build (\`-tags openblas\`). Job: \`scripts/results/job.yaml\`
(MINI = L4/H256/A4, cased BERT vocabulary of 28,996, max 128 tokens, batch 32
examples with dynamic padding and length bucketing, AdamW lr 1e-3 with 6% warm-up and
linear decay, clip 1.0, dropout 0.1, equal mixture). Data: SST-2 \`train_full.tsv\` (67,349
sentences) / \`dev.tsv\` (872); CoNLL-2003 \`train.txt\` (14,041 sentences) / \`valid.txt\` (3,250).

Budget: every task gets $STEPS batches in every run — the single-task runs and the
all-tasks-per-step runs (GradNorm, PCGrad) take $STEPS optimizer steps, the
sampled runs (equal, uncertainty) $((2 * STEPS)) steps of one task each. Dev
evaluation every $EVAL_EVERY steps and at the end; the figures are those of the
evaluation with the best mean of SST-2 accuracy and CoNLL entity F1 (conlleval rules)
over the tasks the run trains. tokens/s counts real (unpadded) tokens per second of
training steps (evaluation excluded); "padded" counts batch B×T.

$table

## Trainer throughput vs the model core's benchmark

| measurement | tokens/s (32 × 128 batches) |
|---|---:|
| trainer on the real shards, \`--pad-to 128\`, 40 steps, sampled mode | $(printf '%.0f' "$trainer_tps") |
| \`BenchmarkTrainMini\` (model core: forward + backward + AdamW, same shape) | $(printf '%.0f' "$bench") |
| ratio | $ratio |

The CPU is shared with other work while these figures are measured; the 1-, 5- and 15-minute
load averages at the start and end of each run (2 cores) were:

$(for f in "$OUT"/runs/*.load; do [ -f "$f" ] && printf -- '- %s: %s\n' "$(basename "$f" .load)" "$(paste -sd';' "$f")"; done)
- when this page was written: $(cut -d' ' -f1-3 /proc/loadavg)

MD
if [ -f scripts/results/notes.md ]; then cat scripts/results/notes.md >> docs/results.md; fi
echo "wrote docs/results.md"
