# The two commands of the README: `make demo` runs the demo job end to end, `make test` runs the tests.
GO ?= go
TAGS_FAST := openblas

.PHONY: setup build build-pure test demo bench
setup:
	bash scripts/setup.sh

build: setup
	$(GO) build -tags $(TAGS_FAST) -o taskweave ./cmd/taskweave

build-pure:
	$(GO) build -o taskweave ./cmd/taskweave

test: setup
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m ./...
	$(GO) test -count=1 -timeout 10m -tags $(TAGS_FAST) ./model/...

demo: build
	./taskweave run testdata/jobs/demo.yaml

bench: build
	$(GO) test -run '^$$' -bench . -tags $(TAGS_FAST) ./model/ ./transforms/wordpiece/
