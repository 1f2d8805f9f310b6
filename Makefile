# The two commands of the README: `make demo` runs the demo job end to end, `make test` runs the tests.
GO ?= go
# The fast build: OpenBLAS for fp32 products, oneDNN for bf16 ones (model/kernels).
TAGS_FAST := openblas,onednn

.PHONY: setup build build-pure test demo bench
setup:
	bash scripts/setup.sh

build: setup
	$(GO) build -tags $(TAGS_FAST) -o taskweave ./cmd/taskweave

build-pure:
	$(GO) build -o taskweave ./cmd/taskweave

# The whole suite runs with the OpenBLAS build, the one `make build` ships. The pure-Go build
# differs only in model/kernels (its BLAS backends and element-wise kernels, C or Go), so its
# second pass is ./model/..., which runs kernels' one conformance suite against the Go side and
# the model's tests on top of it (bf16 emulated there; the fast pass runs it on oneDNN).
test: setup
	$(GO) vet ./...
	$(GO) vet -tags $(TAGS_FAST) ./...
	$(GO) test -count=1 -timeout 25m -tags $(TAGS_FAST) ./...
	$(GO) test -count=1 -timeout 10m ./model/...

demo: build
	./taskweave run testdata/jobs/demo.yaml

# The model benchmarks and the PyTorch anchor interleaved, then the ratio table (scripts/bench.sh;
# BENCH_SIZES, BENCH_ROUNDS, TORCH_BENCH override its defaults). Needs a quiet machine.
bench: setup
	bash scripts/bench.sh
