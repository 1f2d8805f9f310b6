#!/usr/bin/env bash
# make bench: the model benchmarks (fast build) and the PyTorch anchor
# (../shared/reference/torch_bench.py, when python3-torch is installed),
# interleaved size by size for BENCH_ROUNDS rounds, then the ratio table
# (tools/benchtable). Batch 32 × 128, both sides on 2 threads and on the
# same OpenBLAS kernel set (the one the Go build picks, passed to PyTorch as
# OPENBLAS_CORETYPE). Run it on a quiet machine: the table records the load.
#
#   BENCH_SIZES=tiny,mini,small,medium,base BENCH_ROUNDS=2 scripts/bench.sh
# BENCH_PRECISIONS="fp32 bf16" (the default) runs each size in both, interleaved:
# Go with -precision, PyTorch with --amp; one table per precision.
set -euo pipefail
cd "$(dirname "$0")/.."
# Both sides get the widest kernels the CPU runs: a machine-wide
# OPENBLAS_CORETYPE (this project's machines set Haswell, 1.6-1.9x slower
# than the AVX-512 kernels on their Zen 5) would hold both back.
# KEEP_CORETYPE=1 keeps it.
[ "${KEEP_CORETYPE:-0}" = 1 ] || unset OPENBLAS_CORETYPE
sizes=${BENCH_SIZES:-tiny,mini,small,medium,base}
rounds=${BENCH_ROUNDS:-2}
torch_bench=${TORCH_BENCH:-../shared/reference/torch_bench.py}
py=/usr/bin/python3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go test -c -tags openblas,onednn -o "$out/model.test" ./model/
go build -o "$out/benchtable" ./tools/benchtable

have_torch=0
if [ -x "$py" ] && [ -f "$torch_bench" ] && "$py" -c 'import torch' 2>/dev/null; then have_torch=1; fi

core=$(go test -tags openblas -count=1 -run '^TestGEMM$' -v ./model/kernels/ 2>&1 | sed -n 's/.*kernels \([A-Za-z0-9]*\).*/\1/p' | head -1)
{
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(uname -r)"
  echo "start: $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "taskweave: OpenBLAS $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo '?'), kernels ${core:-?} (chosen at start-up), single-threaded OpenBLAS split over goroutines"
  if [ $have_torch = 1 ]; then
    echo "pytorch: $("$py" -c 'import torch; print(torch.__version__)'), OPENBLAS_CORETYPE=${core:-unset}: $(OPENBLAS_VERBOSE=2 OPENBLAS_CORETYPE=$core "$py" -c 'import torch; torch.ones(64,64)@torch.ones(64,64)' 2>&1 | grep '^Core:' | tail -1)"
    echo "  torch.__config__.show(): $("$py" -c 'import torch; print(torch.__config__.show())' | grep -oE 'CPU capability usage: [A-Z0-9]+|BLAS_INFO=[^,]*|USE_MKLDNN=[^,]*|USE_OPENMP=[^,]*' | paste -sd' ')"
  else
    echo "pytorch: not installed (apt-get install -y python3-torch); Go figures only"
  fi
} > "$out/header.txt"

precisions=${BENCH_PRECISIONS:-fp32 bf16}
for r in $(seq 1 "$rounds"); do
  for s in ${sizes//,/ }; do
    S=${s^}
    n=3; steps=5
    case $s in medium) n=1; steps=2 ;; base) n=1; steps=1 ;; esac
    for prec in $precisions; do
      amp=(); [ "$prec" = fp32 ] || amp=(--amp "$prec")
      echo "round $r: $s $prec (load $(cut -d' ' -f1 /proc/loadavg))" >&2
      "$out/model.test" -test.run '^$' -test.bench "^Benchmark(Train|Forward)${S}\$" -test.benchtime ${n}x -test.timeout 30m -precision "$prec" \
        | sed -n "s/^Benchmark/round=$r Benchmark/p" >> "$out/go.$prec.txt"
      if [ $have_torch = 1 ]; then
        OPENBLAS_CORETYPE=$core "$py" "$torch_bench" --threads 2 --configs "$s" --steps $steps --json "${amp[@]}" \
          | sed "s/^/round=$r /" >> "$out/torch.$prec.txt"
      fi
    done
  done
done
echo "end: $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/header.txt"
for prec in $precisions; do
  touch "$out/torch.$prec.txt" "$out/go.$prec.txt"
  echo
  echo "## $prec (taskweave -precision $prec; PyTorch ${prec/fp32/plain}${prec/bf16/ --amp bf16})"
  "$out/benchtable" -header "$out/header.txt" -go "$out/go.$prec.txt" -torch "$out/torch.$prec.txt"
done
# The kernels each side runs in bf16, from oneDNN's verbose log of one tiny pass (not timed).
if [[ " $precisions " == *" bf16 "* ]]; then
  echo
  echo "bf16 kernels, taskweave: $(ONEDNN_VERBOSE=1 "$out/model.test" -test.run '^$' -test.bench '^BenchmarkForwardTiny$' -test.benchtime 1x -precision bf16 2>&1 | grep -E '^onednn_verbose,exec' | awk -F, '{ print $4 ":" $6 }' | sort | uniq -c | sort -rn | head -4 | paste -sd' ')"
  [ $have_torch = 1 ] && echo "bf16 kernels, pytorch: $(OPENBLAS_CORETYPE=$core ONEDNN_VERBOSE=1 DNNL_VERBOSE=1 "$py" "$torch_bench" --threads 2 --configs tiny --steps 1 --amp bf16 2>&1 | grep -E '^(onednn|dnnl)_verbose,exec' | awk -F, '{ print $4 ":" $6 }' | sort | uniq -c | sort -rn | head -4 | paste -sd' ')"
fi
