#!/usr/bin/env bash
# Installs what the tests and the fast build need on a Debian machine (run as root):
# OpenBLAS for the fast kernels, oneDNN for bf16 products (train.precision: bf16), Node.js + DuckDB's Node API as the independent Parquet reader.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
dpkg -s libopenblas-dev >/dev/null 2>&1 || need+=(libopenblas-dev)
dpkg -s libdnnl-dev >/dev/null 2>&1 || need+=(libdnnl-dev)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -d tools/parquetcheck/node_modules/@duckdb/node-api ]; then
  (cd tools/parquetcheck && npm install --no-audit --no-fund --loglevel=error)
fi
