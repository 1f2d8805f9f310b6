#!/usr/bin/env bash
# The real-data recipe, taskweave against PyTorch, back to back on the same
# batches: taskweave trains scripts/results/job.yaml (SST-2 + CoNLL-2003,
# MINI from scratch, batch 32, dynamic padding, AdamW, clip 1.0) for STEPS
# steps and writes every batch it trained on (--dump-batches); then
# tools/torchanchor/real_data.py trains PyTorch's encoder on exactly those
# batches with the same optimizer settings. Both print real (unpadded)
# tokens per second over the training steps (evaluation excluded).
#
#   STEPS=300 SPARSE=1 scripts/realbench.sh      # SPARSE=1: train.sparse_embeddings on
#   PAIRS=3 STEPS=150 SPARSE=1 scripts/realbench.sh   # 3 pairs back to back, then each ratio and the median
#   PRECISIONS="fp32 bf16" (the default) runs each pair in both: taskweave
#   --precision and PyTorch --amp, interleaved; after the timed pairs, a
#   3-step run of each under ONEDNN_VERBOSE names the kernels each side ran.
# Needs the preprocessed data of the results job (scripts/results.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
# Both sides get the widest kernels the CPU runs: a machine-wide
# OPENBLAS_CORETYPE (this project's machines set Haswell, 1.6-1.9x slower
# than the AVX-512 kernels on their Zen 5) would hold both back.
# KEEP_CORETYPE=1 keeps it.
[ "${KEEP_CORETYPE:-0}" = 1 ] || unset OPENBLAS_CORETYPE
steps=${STEPS:-300}
job=${JOB:-scripts/results/job.yaml}
py=/usr/bin/python3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -tags openblas,onednn -o "$out/taskweave" ./cmd/taskweave
flags=()
[ "${SPARSE:-0}" = 1 ] && flags+=(--sparse-embeddings)
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
# PyTorch gets the OpenBLAS kernels taskweave picked (Debian's torch would
# otherwise run OpenBLAS's Prescott fallback on recent Xeons).
core=$(go test -tags openblas -count=1 -run '^TestGEMM$' -v ./model/kernels/ 2>&1 | sed -n 's/.*kernels \([A-Za-z0-9]*\).*/\1/p' | head -1)
pairs=${PAIRS:-1}
precisions=${PRECISIONS:-fp32 bf16}
# kernels FILE: the oneDNN primitives and implementations a verbose log names, with counts.
kernels() { grep -E '^(onednn|dnnl)_verbose,exec' "$1" | awk -F, '{ print $4 ":" $6 }' | sort | uniq -c | sort -rn | head -6 | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 } END { if (NR == 0) printf "no oneDNN calls" }'; }
: > "$out/ratios"
for p in $(seq 1 "$pairs"); do
  [ "$pairs" = 1 ] || echo "pair $p"
  for prec in $precisions; do
    amp=(); [ "$prec" = fp32 ] || amp=(--amp "$prec")
    rm -rf "$out/run"
    echo "taskweave $prec start $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)"
    "$out/taskweave" train --config "$job" --out "$out/run" --quiet --steps "$steps" --eval-every "$steps" \
      --precision "$prec" --dump-batches "$out/batches.jsonl" ${PROFILE:+--cpuprofile "$PROFILE"} "${flags[@]}" 2>"$out/train.log"
    tw=$(grep -E "tokens/s" "$out/train.log" | tail -1)
    echo "$tw"
    grep -m1 -o 'precision .*' "$out/train.log" | sed 's/^/  taskweave /'
    echo "pytorch $prec start $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg), OPENBLAS_CORETYPE=$core"
    pt=$(OPENBLAS_CORETYPE=$core "$py" tools/torchanchor/real_data.py --batches "$out/batches.jsonl" --threads "$(nproc)" "${amp[@]}")
    echo "$pt"
    a=$(sed -n 's/.*: \([0-9]*\) tokens\/s (.*/\1/p' <<<"$tw")
    b=$(sed -n 's/.* \([0-9]*\) real tokens\/s.*/\1/p' <<<"$pt")
    [ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" -v p="$prec" 'BEGIN { printf "%.2f %d %d %s\n", a / b, a, b, p }' >> "$out/ratios"
  done
done
# The kernels each side runs, from 3 steps under oneDNN's verbose log (not timed).
head -3 "$out/batches.jsonl" > "$out/b3.jsonl"
for prec in $precisions; do
  amp=(); [ "$prec" = fp32 ] || amp=(--amp "$prec")
  rm -rf "$out/run"
  ONEDNN_VERBOSE=1 "$out/taskweave" train --config "$job" --out "$out/run" --quiet --steps 3 --eval-every 3 --precision "$prec" "${flags[@]}" >"$out/tw.verbose" 2>/dev/null || true
  echo "$prec kernels: taskweave $(kernels "$out/tw.verbose"); OpenBLAS $core for the rest"
  OPENBLAS_CORETYPE=$core ONEDNN_VERBOSE=1 DNNL_VERBOSE=1 "$py" tools/torchanchor/real_data.py --batches "$out/b3.jsonl" --threads "$(nproc)" "${amp[@]}" >"$out/pt.verbose" 2>&1 || true
  echo "$prec kernels: pytorch $(kernels "$out/pt.verbose"); OpenBLAS $core for the rest"
done
echo "end $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)"
for prec in $precisions; do
  grep " $prec\$" "$out/ratios" > "$out/r.$prec" || continue
  echo "$prec ratios (taskweave / PyTorch real tokens/s): $(awk '{ printf "%s%sx (%d / %d)", (NR > 1 ? ", " : ""), $1, $2, $3 }' "$out/r.$prec")"
  echo "$prec median ratio: $(sort -n "$out/r.$prec" | awk '{ r[NR] = $1 } END { print (NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2) "x" }')"
done
# taskweave bf16 against taskweave fp32, pair by pair (same batches, same machine minutes).
if [[ " $precisions " == *" fp32 "* && " $precisions " == *" bf16 "* ]]; then
  echo "taskweave bf16 / fp32: $(paste "$out/r.fp32" "$out/r.bf16" | awk '{ printf "%s%.2fx", (NR > 1 ? ", " : ""), $6 / $2 }')"
fi
