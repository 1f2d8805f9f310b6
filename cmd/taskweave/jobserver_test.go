package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// beamCmd is a Beam command in the module cache, built into dir.
func buildBeamCmd(t *testing.T, pkg, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, filepath.Base(pkg))
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// startPrism builds Beam's prism job server from the module cache and
// starts it on a free loopback port, in a working directory of its own
// (where PROCESS workers start). It returns the job endpoint.
func startPrism(t *testing.T, bin string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, fmt.Sprintf("--job_port=%d", port), "--serve_http=false", "--log_level=warn")
	cmd.Dir = t.TempDir()
	// The log goes to a file, not a pipe: PROCESS workers are prism's
	// children and inherit its output.
	logPath := filepath.Join(t.TempDir(), "prism.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so the workers it started end with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			t.Logf("prism log:\n%s", readLog())
		}
	})
	endpoint := fmt.Sprintf("localhost:%d", port)
	for deadline := time.Now().Add(time.Minute); ; {
		if c, err := net.Dial("tcp", endpoint); err == nil {
			c.Close()
			return endpoint
		}
		if time.Now().After(deadline) {
			t.Fatalf("prism did not listen on %s:\n%s", endpoint, readLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// bootWrapper works around prism v2.77.0 quoting the worker id it passes to
// a PROCESS environment (--id='…', see processEnvironment in prism's
// environments.go): Beam's boot loader would take the quotes as part of the
// id and fail to find its worker. Dataflow and Flink do not quote.
func bootWrapper(t *testing.T, boot string) string {
	t.Helper()
	p := boot + ".sh"
	script := "#!/bin/sh\nfor a; do shift; set -- \"$@\" \"$(printf '%s' \"$a\" | tr -d \"'\")\"; done\nexec " + boot + " \"$@\"\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// copyJob writes a small job with its corpora and vocabulary beside it,
// every path in it relative to the job file.
func copyJob(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"sent-train.tsv":        "../../pipelines/preprocess/testdata/sent-train.tsv",
		"sent-validation.tsv":   "../../pipelines/preprocess/testdata/sent-validation.tsv",
		"tags-train.conll":      "../../pipelines/preprocess/testdata/tags-train.conll",
		"tags-validation.conll": "../../pipelines/preprocess/testdata/tags-validation.conll",
		"vocab.txt":             "../../testdata/vocab/bert-base-cased-vocab.txt",
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for dst, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	job := `name: cluster
output: out
tokenizer: {vocab: vocab.txt, max_seq_len: 16}
tasks:
  - {name: sent, type: sequence_classification, format: tsv, paths: {train: [sent-train.tsv], validation: [sent-validation.tsv]}}
  - {name: ner, type: token_classification, format: conll, tag_scheme: iob2, columns: {word: 0, tag: 1},
     paths: {train: [tags-train.conll], validation: [tags-validation.conll]}}
preprocess: {shards: 2}
model: {size: tiny}
train: {steps: 4, batch_size: 4, eval_every: 2, eval_split: validation}
`
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
}

// taskweave runs the binary in dir and fails the test on a non-zero exit.
func taskweave(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	// A worker that cannot start leaves a portable job waiting forever.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("(cd %s && taskweave %s): %v\n%s", dir, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// readTree maps every file under root (by slash path relative to root) to
// its bytes, skipping what skip says.
func readTree(t *testing.T, root string, skip func(rel string) bool) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if skip(rel) {
			return nil
		}
		b, err := os.ReadFile(p)
		files[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// sameTrees checks that two output trees hold the same files with the same bytes.
func sameTrees(t *testing.T, what string, want, got map[string][]byte) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: no files to compare", what)
	}
	for rel, b := range want {
		g, ok := got[rel]
		switch {
		case !ok:
			t.Errorf("%s: %s missing", what, rel)
		case !bytes.Equal(b, g):
			t.Errorf("%s: %s differs (%d bytes in-process, %d through the job server)", what, rel, len(b), len(g))
		}
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			t.Errorf("%s: %s is extra", what, rel)
		}
	}
}

// jsonField returns one top-level field of a JSON file, re-encoded.
func jsonField(t *testing.T, path, field string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return string(m[field])
}

// The acceptance test of running on a cluster: preprocess and evaluate
// through a standalone Beam job server (prism, built from the module cache)
// with --runner=universal, the worker in-process (LOOPBACK) and as a
// separate process started by Beam's Go boot loader (PROCESS, the worker
// container's entry point) in the job server's working directory, each
// launched from a directory other than the job's with relative paths. The
// shards, predictions and figures must equal the in-process run's byte for
// byte.
func TestJobServerMatchesInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds prism, the Beam boot loader and taskweave")
	}
	tools := t.TempDir()
	bin := buildBinary(t)
	prism := buildBeamCmd(t, "github.com/apache/beam/sdks/v2/go/cmd/prism", tools)
	boot := bootWrapper(t, buildBeamCmd(t, "github.com/apache/beam/sdks/v2/go/container", tools))
	endpoint := startPrism(t, prism)

	root := t.TempDir()
	copyJob(t, filepath.Join(root, "job"))
	// The reference: in-process prism, launched from the job's parent.
	taskweave(t, bin, root, "preprocess", "--config", "job/job.yaml", "--out", "ref/data", "--quiet")
	taskweave(t, bin, root, "train", "--config", "job/job.yaml", "--data", "ref/data", "--out", "ref/train", "--quiet")
	taskweave(t, bin, root, "evaluate", "--model", "ref/train/best", "--data", "ref/data", "--split", "validation", "--out", "ref/eval")

	noManifest := func(rel string) bool { return rel == "manifest.json" }
	noReport := func(rel string) bool { return !strings.HasPrefix(rel, "predictions/") }
	wantData := readTree(t, filepath.Join(root, "ref", "data"), noManifest)
	wantPred := readTree(t, filepath.Join(root, "ref", "eval"), noReport)
	wantTasks := jsonField(t, filepath.Join(root, "ref", "eval", "report.json"), "tasks")
	wantSplits := jsonField(t, filepath.Join(root, "ref", "data", "manifest.json"), "tasks")

	for _, env := range []struct {
		name  string
		flags []string
	}{
		{"loopback", []string{"--environment_type=LOOPBACK"}},
		{"process", []string{"--environment_type=PROCESS", fmt.Sprintf(`--environment_config={"command": %q}`, boot), "--worker_binary=" + bin}},
	} {
		t.Run(env.name, func(t *testing.T) {
			// Launched from a sibling directory, every path relative to it.
			cwd := filepath.Join(root, "launch-"+env.name)
			if err := os.MkdirAll(cwd, 0o755); err != nil {
				t.Fatal(err)
			}
			beam := append([]string{"--runner=universal", "--endpoint=" + endpoint}, env.flags...)
			out := "../" + env.name
			taskweave(t, bin, cwd, append([]string{"preprocess", "--config", "../job/job.yaml", "--out", out + "/data", "--quiet"}, beam...)...)
			taskweave(t, bin, cwd, append([]string{"evaluate", "--model", "../ref/train/best", "--data", out + "/data",
				"--split", "validation", "--out", out + "/eval"}, beam...)...)

			sameTrees(t, "shards", wantData, readTree(t, filepath.Join(root, env.name, "data"), noManifest))
			sameTrees(t, "predictions", wantPred, readTree(t, filepath.Join(root, env.name, "eval"), noReport))
			if got := jsonField(t, filepath.Join(root, env.name, "data", "manifest.json"), "tasks"); got != wantSplits {
				t.Errorf("manifest tasks differ:\n%s\nin-process:\n%s", got, wantSplits)
			}
			var workers struct{ BLAS []string }
			w := jsonField(t, filepath.Join(root, env.name, "eval", "report.json"), "workers")
			if err := json.Unmarshal([]byte(w), &workers); err != nil || len(workers.BLAS) == 0 {
				t.Errorf("report.json does not name the workers' BLAS: %s (%v)", w, err)
			}
			if got := jsonField(t, filepath.Join(root, env.name, "eval", "report.json"), "tasks"); got != wantTasks {
				t.Errorf("report tasks differ:\n%s\nin-process:\n%s", got, wantTasks)
			}
		})
	}
}
