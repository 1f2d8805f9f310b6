package hostile_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskweave/taskweave/internal/hostile"
	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
)

// hostileCase is one bad input: build writes it under dir and returns the
// path the error must name; read parses it the way taskweave does.
type hostileCase struct {
	kind, name string
	build      func(t *testing.T, dir string) string
	read       func(path string) error
	// mayPass marks inputs that are odd but legal (a corpus whose every
	// line is rejected still reads; the rejections name the file).
	mayPass bool
}

// limits bound every case: tiny inputs, so a few MB of allocation and a
// few seconds are generous; the failures this suite guards against were
// gigabytes (or a fatal out-of-memory) and forever.
var limits = hostile.Limits{Time: 20 * time.Second, Alloc: 64 << 20}

// TestHostileInputs is the acceptance suite of issue 14: corpus files,
// shards, checkpoints, manifests and job specs a hostile or unlucky user
// could hand taskweave. Each must end in an error (or a result) within the
// time and allocation bounds, never a panic, and an error must name the
// file.
func TestHostileInputs(t *testing.T) {
	var cases []hostileCase
	cases = append(cases, corpusCases()...)
	cases = append(cases, shardCases()...)
	cases = append(cases, checkpointCases()...)
	cases = append(cases, manifestCases()...)
	cases = append(cases, specCases()...)
	cases = append(cases, misplacedShardCases()...)
	for _, c := range cases {
		t.Run(c.kind+"/"+c.name, func(t *testing.T) {
			p := c.build(t, t.TempDir())
			out, problem := hostile.Run(limits, func() error { return c.read(p) })
			if problem != nil {
				t.Fatal(problem)
			}
			switch {
			case out.Err == nil && !c.mayPass:
				t.Fatalf("accepted; want an error naming %s", p)
			case out.Err != nil && !strings.Contains(out.Err.Error(), p):
				t.Fatalf("error does not name %s: %v", p, out.Err)
			}
		})
	}
}

func write(t *testing.T, p string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func file(name string, data func() []byte) func(t *testing.T, dir string) string {
	return func(t *testing.T, dir string) string { return write(t, filepath.Join(dir, name), data()) }
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// corpusCases read files with the corpus readers: every rejection and
// error must carry the file name.
func corpusCases() []hostileCase {
	read := func(opt corpus.Options) func(string) error {
		return func(p string) error {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, rej, err := corpus.ReadAll(f, p, opt)
			for _, r := range rej {
				if r.File != p {
					return fmt.Errorf("rejection %q names %q, not the file", r.Reason, r.File)
				}
			}
			return err
		}
	}
	jsonl := corpus.Options{Format: corpus.JSONL, TextColumns: []string{"text"}, LabelColumn: "label", MaxRecordBytes: 4096}
	conll := corpus.Options{Format: corpus.CoNLL, TagColumn: -1, TagScheme: "iob2", MaxRecordBytes: 4096}
	long := func() []byte { return append(bytes.Repeat([]byte("x"), 1<<20), '\n') }
	return []hostileCase{
		{kind: "corpus", name: "1 MB line over a 4 KB limit", build: file("a.jsonl", long), read: read(jsonl)},
		{kind: "corpus", name: "1 MB CoNLL sentence without a break", build: file("a.conll", func() []byte {
			return bytes.Repeat([]byte("w\tO\n"), 1<<18)
		}), read: read(conll)},
		{kind: "corpus", name: "gzip", build: file("a.jsonl", func() []byte { return gzipped([]byte(`{"text":"a","label":1}` + "\n")) }), read: read(jsonl)},
		{kind: "corpus", name: "NUL bytes and invalid UTF-8", build: file("a.jsonl", func() []byte {
			return []byte("{\"text\":\"a\x00\",\"label\":1}\n{\"text\":\"\xff\",\"label\":1}\n")
		}), read: read(jsonl)},
		{kind: "corpus", name: "duplicate label key", build: file("a.jsonl", func() []byte {
			return []byte(`{"text":"a","label":1,"label":0}` + "\n")
		}), read: read(jsonl)},
		{kind: "corpus", name: "deeply nested JSON", build: file("a.jsonl", func() []byte {
			return []byte(`{"text":"a","label":1,"x":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + "}\n")
		}), read: read(corpus.Options{Format: corpus.JSONL, TextColumns: []string{"text"}, LabelColumn: "label", MaxRecordBytes: 8 << 20}), mayPass: true},
		{kind: "corpus", name: "empty", build: file("a.conll", func() []byte { return nil }), read: read(conll)},
	}
}

// aShard writes a small valid shard.
func aShard(t *testing.T, dir string) []byte {
	t.Helper()
	var rows []shards.Row
	for i := range 40 {
		rows = append(rows, shards.Row{Task: "ner", Split: "train", ExampleID: fmt.Sprintf("a:%d", i), InputIDs: []int32{101, int32(i), 102},
			TokenLabels: []int32{-100, 1, -100}, WordIDs: []int32{-1, 0, -1}, Words: []string{"w"}, Text: "w"})
	}
	p := filepath.Join(dir, "good.parquet")
	if err := shards.WriteFile(context.Background(), p, rows); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func shardCases() []hostileCase {
	read := func(p string) error {
		_, err := shards.ReadAll(context.Background(), p)
		return err
	}
	corrupt := func(name string, edit func(b []byte) []byte) hostileCase {
		return hostileCase{kind: "shard", name: name, read: read, build: func(t *testing.T, dir string) string {
			return write(t, filepath.Join(dir, "ner", "train", "part-00000-of-00001.parquet"), edit(aShard(t, dir)))
		}}
	}
	footer := func(b []byte) int { return len(b) - 8 - int(binary.LittleEndian.Uint32(b[len(b)-8:])) }
	return []hostileCase{
		corrupt("empty", func(b []byte) []byte { return nil }),
		corrupt("truncated to half", func(b []byte) []byte { return b[:len(b)/2] }),
		corrupt("two footer bytes flipped", func(b []byte) []byte { b[footer(b)+11] = 0x7f; b[footer(b)+12] ^= 0xff; return b }),
		corrupt("footer length 4 GiB", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[len(b)-8:], math.MaxUint32); return b }),
		corrupt("footer list claims 2^31 items", func(b []byte) []byte {
			copy(b[footer(b)+3:], []byte{0xff, 0xff, 0xff, 0xff, 0x07})
			return b
		}),
		corrupt("a page's bytes zeroed", func(b []byte) []byte { clear(b[4 : len(b)/3]); return b }),
	}
}

// tinyCheckpoint saves a two-layer model with one sequence head.
func tinyCheckpoint(t *testing.T, dir string) {
	t.Helper()
	cfg := model.Config{VocabSize: 8, HiddenSize: 4, NumHiddenLayers: 1, NumAttentionHeads: 1, IntermediateSize: 8,
		MaxPositionEmbeddings: 16, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	m, err := model.New(cfg, []model.HeadSpec{{Task: "sst2", Kind: model.SequenceClassification, NumLabels: 2}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	meta := checkpoint.Meta{Vocab: []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c"}, MaxSeqLen: 16,
		Tasks: []checkpoint.TaskInfo{{Name: "sst2", Labels: []string{"neg", "pos"}}}}
	if err := checkpoint.Save(checkpoint.LocalDir(dir), m, meta); err != nil {
		t.Fatal(err)
	}
}

func checkpointCases() []hostileCase {
	load := func(p string) error {
		_, _, err := checkpoint.Load(checkpoint.LocalDir(p))
		return err
	}
	edited := func(name string, edit func(t *testing.T, dir string)) hostileCase {
		return hostileCase{kind: "checkpoint", name: name, read: load, build: func(t *testing.T, dir string) string {
			dir = filepath.Join(dir, "ckpt")
			tinyCheckpoint(t, dir)
			edit(t, dir)
			return dir
		}}
	}
	setConfig := func(key string, v any) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, "config.json")
			raw, _ := os.ReadFile(p)
			var c map[string]any
			json.Unmarshal(raw, &c)
			c[key] = v
			raw, _ = json.Marshal(c)
			write(t, p, raw)
		}
	}
	hf := func(weights []byte) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "model.safetensors"))
			write(t, filepath.Join(dir, "pytorch_model.bin"), weights)
			setConfig("taskweave", nil)(t, dir)
			p := filepath.Join(dir, "config.json")
			raw, _ := os.ReadFile(p)
			write(t, p, bytes.Replace(bytes.Replace(raw, []byte(`,"taskweave":null`), nil, 1), []byte(`"taskweave":null,`), nil, 1))
		}
	}
	safetensors := func(header string) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		return append(append(b, header...), make([]byte, 16)...)
	}
	return []hostileCase{
		edited("no files", func(t *testing.T, dir string) {
			for _, f := range []string{"config.json", "model.safetensors", "vocab.txt", "tasks.json"} {
				os.Remove(filepath.Join(dir, f))
			}
		}),
		edited("safetensors header claims 1e12 elements", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "model.safetensors"), safetensors(`{"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4000000000000]}}`))
		}),
		edited("safetensors header length 2^63", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "model.safetensors"), binary.LittleEndian.AppendUint64(nil, 1<<63))
		}),
		edited("config vocab_size 2e9", setConfig("vocab_size", 2e9)),
		edited("config 100000 layers", setConfig("num_hidden_layers", 100000)),
		edited("config hidden_size -1", setConfig("hidden_size", -1)),
		edited("config.json not JSON", func(t *testing.T, dir string) { write(t, filepath.Join(dir, "config.json"), []byte("{\x00")) }),
		edited("empty pytorch_model.bin", hf(nil)),
		edited("truncated pytorch_model.bin", hf([]byte("PK\x03\x04\x14\x00\x00\x00"))),
		edited("pytorch_model.bin is a git-lfs pointer", hf([]byte("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 440473133\n"))),
		edited("pickle string claims 2 GiB", hf([]byte{0x80, 0x02, 'X', 0xff, 0xff, 0xff, 0x7f, 'a'})),
	}
}

func manifestCases() []hostileCase {
	read := func(p string) error {
		_, err := manifest.Read(context.Background(), p)
		return err
	}
	m := func(name, text string) hostileCase {
		return hostileCase{kind: "manifest", name: name, read: read, build: file("manifest.json", func() []byte { return []byte(text) })}
	}
	return []hostileCase{
		m("empty", ""),
		m("truncated", `{"format_version": 1, "tasks": {"ner": {"splits": {"train": {"examples": 3, "shards": ["a`),
		m("wrong types", `{"format_version": "one", "tasks": []}`),
		m("deep nesting", `{"tasks":`+strings.Repeat(`{"a":`, 5000)+`1`+strings.Repeat(`}`, 5001)),
		m("shard path escapes", `{"format_version": 1, "fingerprint": "sha256:00", "tokenizer": {"vocab_size": 8, "max_seq_len": 8},
			"tasks": {"ner": {"type": "token_classification", "tag_scheme": "none", "labels": ["O"], "splits": {"train": {"shards": ["../../etc/passwd"]}}}}}`),
	}
}

func specCases() []hostileCase {
	read := func(p string) error {
		_, err := spec.Load(p)
		return err
	}
	s := func(name, text string) hostileCase {
		return hostileCase{kind: "spec", name: name, read: read, build: file("job.yaml", func() []byte { return []byte(text) })}
	}
	// The billion laughs: nine levels of nine aliases each would expand to
	// 10^9 strings if aliases were expanded blindly.
	var bomb strings.Builder
	bomb.WriteString("a0: &a0 [\"lol\"]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&bomb, "a%d: &a%d [", i, i)
		for j := 0; j < 9; j++ {
			if j > 0 {
				bomb.WriteString(", ")
			}
			fmt.Fprintf(&bomb, "*a%d", i-1)
		}
		bomb.WriteString("]\n")
	}
	bomb.WriteString("name: x\n")
	return []hostileCase{
		s("empty", ""),
		s("binary", "\x00\x01\x02\xff\xfe"),
		s("billion laughs", bomb.String()),
		// Issue 26: the same anchors used as a value made validate grow to 4.6 GB.
		s("billion laughs used as a value", strings.Replace(bomb.String(), "name: x\n", "name: x\nschedule: *a9\n", 1)),
		s("deep nesting", "name: "+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+"\n"),
		s("number past float64", "name: x\ntrain:\n  steps: 1e400\n"),
		s("unknown key", "name: x\nnot_a_key: 1\n"),
		// Issue 26: the job name became the default output directory.
		s("job name is a parent path", "name: ../../../tmp/evil\n"),
		s("job name with a newline", "name: \"a\\nb\"\n"),
		s("list where a string goes", "name: x\nschedule: [1, 2]\n"),
		// Issue 26: the tab error's snippet split the next line in two.
		s("tab indentation", "name: x\ntasks:\n\t- name: sst2\n    kind: classification\n"),
	}
}

// misplacedShardCases (issue 26): a shard whose rows belong to another
// split or task than the manifest lists it under; train and evaluate run
// manifest.CheckShards before reading. The error must name the shard.
func misplacedShardCases() []hostileCase {
	check := func(p string) error {
		mp := filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(p))), manifest.FileName)
		m, err := manifest.Read(context.Background(), mp)
		if err != nil {
			return err
		}
		return m.CheckShards(context.Background(), mp, []string{p})
	}
	placed := func(name, task, split string) hostileCase {
		return hostileCase{kind: "shards vs manifest", name: name, read: check, build: func(t *testing.T, dir string) string {
			rel := task + "/" + split + "/part-00000-of-00001.parquet"
			p := write(t, filepath.Join(dir, filepath.FromSlash(rel)), aShard(t, dir)) // rows: task ner, split train
			man := fmt.Sprintf(`{"format_version": 1, "fingerprint": "sha256:00", "tokenizer": {"vocab_size": 8, "max_seq_len": 8},
				"tasks": {%q: {"type": "token_classification", "tag_scheme": "none", "labels": ["O"], "splits": {%q: {"examples": 40, "shards": [%q]}}}}}`, task, split, rel)
			write(t, filepath.Join(dir, manifest.FileName), []byte(man))
			return p
		}}
	}
	return []hostileCase{
		placed("train rows listed as validation", "ner", "validation"),
		placed("ner rows listed as another task", "pos", "train"),
	}
}
