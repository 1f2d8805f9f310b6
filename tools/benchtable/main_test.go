package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTable: two rounds of Go and PyTorch figures give the means' ratio
// and the peak implied by GFLOP/s and its fraction.
func TestTable(t *testing.T) {
	dir := t.TempDir()
	goOut := filepath.Join(dir, "go.txt")
	torchOut := filepath.Join(dir, "torch.txt")
	os.WriteFile(goOut, []byte(`round=1 BenchmarkTrainMini-2   	       3	 1 ns/op	 50.0 GFLOP/s	 0.25 of_sgemm_peak	 6000 tokens/s
round=1 BenchmarkForwardMini-2 	       3	 1 ns/op	 60.0 GFLOP/s	 0.30 of_sgemm_peak	 20000 tokens/s
round=2 BenchmarkTrainMini-2   	       3	 1 ns/op	 50.0 GFLOP/s	 0.25 of_sgemm_peak	 4000 tokens/s
`), 0o644)
	os.WriteFile(torchOut, []byte(`round=1 {"config": "mini", "train_tokens_per_s": 1000, "infer_tokens_per_s": 4000}
round=2 {"config": "mini", "train_tokens_per_s": 1500, "infer_tokens_per_s": 6000}
`), 0o644)
	var b strings.Builder
	if err := run(&b, "", goOut, torchOut); err != nil {
		t.Fatal(err)
	}
	want := "| mini | 6000; 4000 | 1000; 1500 | 4.00x | 20000 | 4000; 6000 | 4.00x | 50.0; 50.0 (25%; 25%) | 60.0 (30%) | 200; 200 |"
	if !strings.Contains(b.String(), want) {
		t.Fatalf("table:\n%s\nwant the row\n%s", b.String(), want)
	}
}
