package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Flags that override spec keys apply when given, 0 included, and never
// otherwise; `validate` reports every bad key with its line and range.
func TestSpecFlagsAndValidate(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	y := `name: flags
tokenizer: {vocab: vocab.txt}
tasks:
  - name: a
    type: sequence_classification
    format: tsv
    paths: {train: [a.tsv]}
train:
  clip: -1
  steps: 20.7
`
	if err := os.WriteFile(job, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(strings.Replace(y, "  clip: -1\n  steps: 20.7\n", "  lr: 0.001\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		ok   bool
		want []string
	}{
		{[]string{"validate", job}, false, []string{"line 9: train.clip: -1 is out of range; use clip >= 0", "line 10: train.steps: 20.7 is not a whole number"}},
		{[]string{"validate", good}, true, []string{"ok"}},
		{[]string{"validate", "--defaults"}, true, []string{"| `train.clip` | 1 |", "| `evaluate.batch_size` | 64 |"}},
		// --lr 0 used to be ignored (compared with zero) and train ran at train.lr.
		{[]string{"train", "--config", good, "--lr", "0"}, false, []string{"train.lr: 0 is out of range"}},
		{[]string{"train", "--config", good, "--steps", "0"}, false, []string{"train.steps: 0 is out of range"}},
		{[]string{"evaluate", "--config", good, "--model", dir, "--batch", "0"}, false, []string{"batch size 0"}},
	}
	for _, c := range cases {
		out, err := exec.Command(bin, c.args...).CombinedOutput()
		if (err == nil) != c.ok {
			t.Errorf("taskweave %s: err %v\n%s", strings.Join(c.args, " "), err, out)
		}
		for _, w := range c.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("taskweave %s: no %q in\n%s", strings.Join(c.args, " "), w, out)
			}
		}
	}
}
