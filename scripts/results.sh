#!/usr/bin/env bash
# Produces docs/results.md: SST-2 + CoNLL-2003 NER (from ../shared/corpora),
# a MINI encoder trained from scratch, single-task baselines and the
# multi-task model under equal, uncertainty, GradNorm and PCGrad weighting,
# plus the trainer's throughput on real data next to the model core's
# training-step benchmark at the same size.
#
#   STEPS=800 scripts/results.sh          # per-task batch budget of every run
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
  "$TW" train --config "$JOB" --out "$dir" --quiet --eval-every "$EVAL_EVERY" "$@" 2>"$dir.log" || { tail -20 "$dir.log"; exit 1; }
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
rm -rf "$TP"
echo "== throughput: trainer, 40 steps at 32x128"
"$TW" train --config "$JOB" --out "$TP" --quiet --pad-to 128 --steps 40 --eval-every 1000000 2>"$TP.log"
trainer_tps=$(sed -n 's/.*"padded_tokens_per_sec": \([0-9.]*\).*/\1/p' "$TP/summary.json" | head -1)
echo "== throughput: BenchmarkTrainMini"
bench=$(go test -run '^$' -bench 'BenchmarkTrainMini$' -benchtime 5x -tags openblas ./model/ | tee "$OUT/bench.log" | sed -n 's/.* \([0-9.]*\) tokens\/s.*/\1/p' | head -1)
ratio=$(awk -v a="$trainer_tps" -v b="$bench" 'BEGIN { printf "%.3f", a / b }')

table=$("$TW" results --columns sst2:accuracy,conll:entity_f1 \
  sst2-only="$OUT/runs/sst2-only" conll-only="$OUT/runs/conll-only" \
  mt-equal="$OUT/runs/mt-equal" mt-uncertainty="$OUT/runs/mt-uncertainty" \
  mt-gradnorm="$OUT/runs/mt-gradnorm" mt-pcgrad="$OUT/runs/mt-pcgrad")

cat > docs/results.md <<MD
# Results: SST-2 + CoNLL-2003 NER, MINI encoder from scratch

Produced by \`STEPS=$STEPS scripts/results.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'),
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

MD
echo "wrote docs/results.md"
