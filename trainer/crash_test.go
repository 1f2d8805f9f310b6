package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/io/storage/gcstest"
)

// crashConfig is the run the kill -9 test's child trains: a save at every
// step, steps enough never to finish.
func crashConfig(data, out string) Config {
	cfg := baseConfig(data, out)
	cfg.Steps, cfg.SaveEvery, cfg.EvalEvery, cfg.LogEvery = 100000, 1, 0, 1
	return cfg
}

// TestCrashChild is the child process of the kill -9 tests; it does
// nothing in a normal test run.
func TestCrashChild(t *testing.T) {
	data, out := os.Getenv("TW_CRASH_DATA"), os.Getenv("TW_CRASH_OUT")
	if data == "" {
		t.Skip("child of TestKill9DuringSaves only")
	}
	cfg := crashConfig(data, out)
	cfg.Resume = savedLast(t, out) != ""
	_, err := Train(context.Background(), cfg)
	t.Fatalf("the child run ended instead of being killed: %v", err)
}

// savedLast is the directory of the complete last/ under out ("" when
// nothing was saved): out/last locally, what last.json names on gs://.
func savedLast(t *testing.T, out string) string {
	t.Helper()
	if !storage.IsGCS(out) {
		if _, err := os.Stat(filepath.Join(out, lastDir)); err != nil {
			return ""
		}
		return filepath.Join(out, lastDir)
	}
	b, err := storage.ReadFile(context.Background(), storage.Join(out, lastPointer))
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	var p pointer
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return storage.Join(out, p.Dir)
}

func savedStep(t *testing.T, out string) int {
	t.Helper()
	b, err := storage.ReadFile(context.Background(), storage.Join(savedLast(t, out), stateJSON))
	if err != nil {
		t.Fatal(err)
	}
	var st trainerState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st.Step
}

// A run that saves last/ at every step, killed with SIGKILL at random
// moments (most of its time is spent saving), is always resumable from
// last/, leaves no unfinished save behind once resumed, and its
// metrics.jsonl never repeats a step.
func TestKill9DuringSaves(t *testing.T) {
	if testing.Short() {
		t.Skip("kills subprocesses")
	}
	out := filepath.Join(t.TempDir(), "run")
	kill9DuringSaves(t, out, 1500*time.Millisecond, func(kill int) {
		for _, d := range []string{lastNewDir, lastOldDir} {
			if _, err := os.Stat(filepath.Join(out, d)); err == nil {
				t.Fatalf("kill %d: %s left behind after resuming", kill, d)
			}
		}
		entries, _ := os.ReadDir(filepath.Join(out, lastDir))
		for _, e := range entries {
			if strings.Contains(e.Name(), "tmp") {
				t.Fatalf("kill %d: temporary file %s in last/", kill, e.Name())
			}
		}
	})
}

// The same on gs:// (fake-gcs-server): a save writes a fresh prefix under
// last.d/ and then switches last.json to it, so a kill at any moment leaves
// last.json naming a complete save; on resume the prefixes it does not name
// are gone, and after the next save nothing but the current one is left.
// Before, gs:// files were replaced one by one and a kill mid-save left a
// last/ mixing two saves, refused on resume.
func TestKill9DuringSavesGCS(t *testing.T) {
	if testing.Short() {
		t.Skip("kills subprocesses")
	}
	ctx := context.Background()
	out := "gs://" + gcstest.Start(t) + "/run"
	// stale lists what under out is neither the current save nor the run's
	// own files; an upload the killed child had in flight may still land
	// after the clean-up on resume, so a prefix of a later step than
	// last.json's, and a metrics.jsonl part, are allowed until the next save.
	stale := func(allowInFlight bool) (left []string, files int) {
		names, err := storage.Walk(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		cur := strings.TrimPrefix(savedLast(t, out), out+"/") + "/"
		for _, n := range names {
			var step int
			inFlight := false
			if rest, ok := strings.CutPrefix(n, lastVersions+"/"); ok {
				_, err := fmt.Sscanf(rest, "%d-", &step)
				inFlight = err == nil && step > savedStep(t, out)
			}
			switch {
			case strings.HasPrefix(n, cur):
				files++
			case strings.HasPrefix(n, ".metrics.jsonl.tw-tmp-"):
				if !allowInFlight {
					left = append(left, n)
				}
			case strings.Contains(n, ".tw-tmp-"), strings.HasPrefix(n, lastVersions+"/") && !(allowInFlight && inFlight):
				left = append(left, n)
			}
		}
		return left, files
	}
	torn := 0
	kill9DuringSaves(t, out, 2500*time.Millisecond, func(kill int) {
		left, files := stale(true)
		if len(left) > 0 {
			t.Fatalf("kill %d: stale objects left after resuming: %q", kill, left)
		}
		if files < 4 {
			t.Fatalf("kill %d: the save last.json names holds %d files", kill, files)
		}
	}, func(kill int) {
		if left, _ := stale(false); len(left) > 0 {
			torn++ // the kill cut a save or its clean-up short
		}
	})
	t.Logf("%d of 8 kills left an unfinished save behind, each cleaned up", torn)
	// One more save, after the killed child's uploads have all landed:
	// only the current save is left.
	cfg := crashConfig(synthData(t, 96), out)
	cfg.Resume, cfg.StopAt = true, savedStep(t, out)+1
	if _, err := Train(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if left, files := stale(false); len(left) > 0 || files < 4 {
		t.Fatalf("after a clean save: stale %q, %d files in the current save", left, files)
	}
}

// kill9DuringSaves kills a child training into out 8 times at random
// moments (after at least settle), resumes in process after each kill and
// checks the resumed state; check adds the storage-specific checks, before
// (optional) looks at what the kill left.
func kill9DuringSaves(t *testing.T, out string, settle time.Duration, check func(kill int), before ...func(kill int)) {
	data := synthData(t, 96)
	rng := rand.New(rand.NewPCG(7, 9))
	for kill := 0; kill < 8; kill++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "TW_CRASH_DATA="+data, "TW_CRASH_OUT="+out)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Let it save a few times first (process start and setup take a while).
		time.Sleep(settle + time.Duration(rng.IntN(int(settle/time.Millisecond)))*time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		for _, f := range before {
			f(kill)
		}

		// Resume in process and take one more step.
		cfg := crashConfig(data, out)
		if !storage.IsGCS(out) {
			if _, err := os.Stat(filepath.Join(out, lastDir)); err != nil {
				if _, err2 := os.Stat(filepath.Join(out, lastOldDir)); err2 != nil {
					t.Fatalf("kill %d: neither last/ nor .last.old exists: %v", kill, err)
				}
			}
		} else if savedLast(t, out) == "" {
			t.Fatalf("kill %d: no last.json after %v of training", kill, settle)
		}
		cfg.Resume = true
		tr := &Trainer{cfg: cfg, log: newProgress(nil, nil)}
		if err := tr.setup(context.Background()); err != nil {
			t.Fatalf("kill %d: resume failed: %v", kill, err)
		}
		tr.metrics.close()
		step := tr.step
		if savedStep(t, out) != step {
			t.Fatalf("kill %d: resumed at %d but last/ says %d", kill, step, savedStep(t, out))
		}
		check(kill)
		// The log holds each step at most once and nothing past the resumed step.
		seen := map[float64]bool{}
		for _, ev := range readEvents(t, out) {
			if ev["event"] != "train" {
				continue
			}
			s := ev["step"].(float64)
			if seen[s] || int(s) > step {
				t.Fatalf("kill %d (resumed at %d): metrics.jsonl has train step %v twice or past the resume", kill, step, s)
			}
			seen[s] = true
		}
		t.Logf("kill %d: resumed at step %d", kill, step)
	}
}

// The first non-finite loss stops training with an error naming the step
// and the task; last/ keeps the last good state. A regression target of
// 3e38 is finite but its squared error overflows float32.
func TestNonFiniteLossStops(t *testing.T) {
	data := synthData(t, 64)
	addRegressionTask(t, data, 64, 20)
	cfg := baseConfig(data, filepath.Join(t.TempDir(), "run"))
	cfg.Tasks = []TaskOptions{{Name: "reg", Weight: 1}}
	cfg.Steps, cfg.SaveEvery, cfg.EvalEvery, cfg.SelectMetric = 40, 1, 0, "mean"
	_, err := Train(context.Background(), cfg)
	if err == nil {
		t.Fatal("training on an overflowing target succeeded")
	}
	var step int
	i := strings.Index(err.Error(), "step ")
	if i < 0 {
		t.Fatalf("error does not name the step: %v", err)
	}
	if _, scanErr := fmt.Sscanf(err.Error()[i:], "step %d, task reg: the loss is +Inf", &step); scanErr != nil {
		t.Fatalf("error does not name the step and task: %v", err)
	}
	if got := savedStep(t, cfg.Out); got != step-1 {
		t.Fatalf("last/ is from step %d, want %d, the last good one", got, step-1)
	}
	for _, p := range loadWeights(t, filepath.Join(cfg.Out, lastDir)) {
		for _, w := range p.W {
			if w != w || w > 1e30 || w < -1e30 {
				t.Fatalf("last/ holds a non-finite weight in %s", p.Name)
			}
		}
	}
}

// Resuming where nothing was saved says so and how to start.
func TestResumeWithoutLast(t *testing.T) {
	cfg := baseConfig(synthData(t, 64), filepath.Join(t.TempDir(), "run"))
	cfg.Resume = true
	_, err := Train(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "holds no saved checkpoint") || !strings.Contains(err.Error(), "run without --resume") {
		t.Fatalf("resume without last/: %v", err)
	}
	cfg.Out = "gs://" + gcstest.Start(t) + "/run"
	_, err = Train(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), cfg.Out+"/last.json does not exist, so no save finished") || !strings.Contains(err.Error(), "run without --resume") {
		t.Fatalf("resume without last.json on gs://: %v", err)
	}
}

func TestUpToStep(t *testing.T) {
	log := `{"event":"start","step":0}
{"event":"train","step":1}
{"event":"train","step":2}
{"event":"eval","step":2}
{"event":"end","summary":{"steps":2}}
{"event":"start","step":2}
{"event":"train","step":3}
{"event":"train","st`
	want := `{"event":"start","step":0}
{"event":"train","step":1}
{"event":"train","step":2}
{"event":"eval","step":2}
{"event":"end","summary":{"steps":2}}
{"event":"start","step":2}
`
	if got := string(upToStep([]byte(log), 2)); got != want {
		t.Fatalf("upToStep(2) =\n%s\nwant\n%s", got, want)
	}
}

// addRegressionTask adds a sequence_regression task "reg" to synthData's
// corpus (target: the number of token 7s), with an overflowing target at
// train row bad.
func addRegressionTask(t *testing.T, data string, n, bad int) {
	t.Helper()
	ctx := context.Background()
	man, err := manifest.Read(ctx, manifest.Path(data))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	splits := map[string]manifest.Split{}
	for _, split := range []string{"train", "validation"} {
		var rows []shards.Row
		for i := 0; i < n; i++ {
			ids := []int32{2}
			target := float32(0)
			for j := 0; j < 3+rng.IntN(8); j++ {
				id := int32(5 + rng.IntN(testVocab-5))
				if id == 7 {
					target++
				}
				ids = append(ids, id)
			}
			if split == "train" && i == bad {
				target = 3e38
			}
			rows = append(rows, shards.Row{Task: "reg", Split: split, ExampleID: fmt.Sprintf("reg/%s/%d", split, i),
				InputIDs: append(ids, 3), TokenTypeIDs: make([]int32, len(ids)+1), Label: -1, Target: target})
		}
		rel := fmt.Sprintf("reg/%s/part-00000-of-00001.parquet", split)
		writeShard(t, filepath.Join(data, rel), rows)
		splits[split] = manifest.Split{Examples: int64(n), Shards: []string{rel}}
	}
	man.Tasks["reg"] = manifest.Task{Type: "sequence_regression", Splits: splits}
	if err := manifest.Write(ctx, manifest.Path(data), man); err != nil {
		t.Fatal(err)
	}
}
