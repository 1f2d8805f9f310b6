// Package pack builds and runs the pipeline that turns the preprocessed
// train text of a job's pre-training sources into packed masked-LM shards
// for `taskweave pretrain`:
//
//	source train shards ─Reshuffle─ ReadFn ─ sorted runs of sentences, by document bucket
//	  ─ GroupByKey(bucket) ─ PackFn ─ sorted runs of packed rows, by shard
//	  ─ writeshards.Merge ─ part-i-of-N.parquet
//	launcher: counts rows and tokens, writes manifest.json
//
// Only run file paths pass between the stages (transforms/pack): memory
// is flat in the corpus size, as preprocess's.
//
// Only train splits are read, and a source whose train files include a
// validation or test file of any task of the job is refused, naming the
// file: text a task is judged on must never be pre-trained on. The output is
// an ordinary preprocessed data directory with one masked_lm task, so the
// trainer reads it as it reads any task's shards.
package pack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/taskweave/taskweave/internal/beamerr"
	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/pipelines/launch"
	"github.com/taskweave/taskweave/text/wordpiece"
	tpack "github.com/taskweave/taskweave/transforms/pack"
	"github.com/taskweave/taskweave/transforms/writeshards"
)

// Task is the name of the packed masked-LM task in the output manifest.
const Task = "pretrain"

// Config is one packing run.
type Config struct {
	Data    string   // the job's preprocessed data directory (manifest.json)
	Vocab   string   // the vocab.txt the data was tokenized with
	Sources []string // tasks whose train text is packed
	Out     string   // output directory
	Holdout float64  // share of document groups held out as the validation split
	Shards  int      // shards per split
}

// Result says what Run did.
type Result struct {
	Manifest *manifest.Manifest
	UpToDate bool
}

// Run packs cfg's sources into cfg.Out unless the manifest there has this
// config's and these sources' fingerprint.
func Run(ctx context.Context, cfg Config, runner string) (*Result, error) {
	srcPath := manifest.Path(cfg.Data)
	src, err := manifest.Read(ctx, srcPath)
	if err != nil {
		return nil, fmt.Errorf("pre-training reads the preprocessed shards: %w (run `taskweave preprocess` first)", err)
	}
	paths, err := TrainShards(src, srcPath, cfg.Sources)
	if err != nil {
		return nil, err
	}
	fp, err := manifest.Fingerprint(ctx, struct {
		Format  string   `json:"format"`
		Source  string   `json:"source_fingerprint"`
		Sources []string `json:"sources"`
		MaxLen  int      `json:"max_seq_len"`
		Holdout float64  `json:"holdout"`
		Shards  int      `json:"shards"`
		Chunk   int      `json:"chunk_records"`
	}{"pack v1", src.Fingerprint, cfg.Sources, src.Tokenizer.MaxSeqLen, cfg.Holdout, cfg.Shards, tpack.ChunkRecords}, nil)
	if err != nil {
		return nil, err
	}
	outPath := manifest.Path(cfg.Out)
	if up, m, err := manifest.UpToDate(ctx, outPath, fp); err != nil {
		return nil, err
	} else if up {
		if stale, err := m.VerifyShards(ctx, cfg.Out); err != nil {
			return nil, err
		} else if len(stale) == 0 {
			return &Result{Manifest: m, UpToDate: true}, nil
		}
	}
	cls, sep, err := specials(ctx, cfg.Vocab, src)
	if err != nil {
		return nil, err
	}
	if err := removeIfExists(ctx, outPath); err != nil {
		return nil, err
	}
	if runner == "" {
		runner = launch.DefaultRunner
	}
	p, s := beam.NewPipelineWithRoot()
	tmp := storage.Join(cfg.Out, ".pack-runs")
	if err := writeshards.RemoveRuns(ctx, tmp); err != nil {
		return nil, err
	}
	Build(s, paths, &tpack.PackFn{Task: Task, MaxSeqLen: src.Tokenizer.MaxSeqLen, CLS: cls, SEP: sep, Holdout: cfg.Holdout, Shards: cfg.Shards}, cfg.Out, tmp)
	_, err = launch.Execute(ctx, runner, p, false, "", nil)
	// The run files are spent whether the pipeline succeeded or not.
	if rerr := writeshards.RemoveRuns(ctx, tmp); err == nil && rerr != nil {
		return nil, rerr
	}
	if err != nil {
		return nil, beamerr.Clean("pack", err)
	}
	m, err := buildManifest(ctx, cfg, src, fp)
	if err != nil {
		return nil, err
	}
	if err := manifest.Write(ctx, outPath, m); err != nil {
		return nil, err
	}
	return &Result{Manifest: m}, nil
}

// Build adds the packing pipeline over the shards at paths to s; run files
// go under tmp.
func Build(s beam.Scope, paths []string, fn *tpack.PackFn, out, tmp string) {
	s = s.Scope("Pack")
	fn.Tmp = tmp
	files := beam.Reshuffle(s, beam.CreateList(s, paths))
	docs := beam.ParDo(s, &tpack.ReadFn{CLS: fn.CLS, SEP: fn.SEP, Tmp: tmp, Buckets: fn.Shards}, files)
	runs := beam.ParDo(s, fn, beam.GroupByKey(s, beam.ParDo(s, tpack.BucketOf, docs)))
	var keys []string
	for _, split := range []string{tpack.Train, tpack.Validation} {
		for i := range fn.Shards {
			keys = append(keys, writeshards.Key(fn.Task, split, i, fn.Shards))
		}
	}
	writeshards.Merge(s, runs, beam.CreateList(s, keys), out)
}

// TrainShards returns the train shards of the source tasks, after checking
// that none of their train files is another split's file of any task.
func TrainShards(m *manifest.Manifest, manPath string, sources []string) ([]string, error) {
	if len(sources) == 0 {
		return nil, errors.New("pretrain.sources is empty; name the tasks whose train text pre-training reads")
	}
	held := map[string]string{} // file → "task's split"
	for name, t := range m.Tasks {
		for split, st := range t.Splits {
			if split == tpack.Train {
				continue
			}
			for _, f := range st.Sources {
				held[clean(f)] = fmt.Sprintf("task %s's %s split", name, split)
			}
		}
	}
	var out []string
	for _, src := range sources {
		t, ok := m.Tasks[src]
		if !ok {
			return nil, fmt.Errorf("pretrain.sources names task %q, which is not in %s; preprocess it first", src, manPath)
		}
		for _, f := range t.Splits[tpack.Train].Sources {
			if where, bad := held[clean(f)]; bad {
				return nil, fmt.Errorf("pretrain.sources: task %s's train file %s is also %s; pre-training must not read text a task is evaluated on: remove it from one of the two", src, f, where)
			}
		}
		p, err := m.ShardPaths(manPath, src, tpack.Train)
		if err != nil {
			return nil, fmt.Errorf("pretrain.sources: %w", err)
		}
		out = append(out, p...)
	}
	return out, nil
}

func clean(p string) string {
	if storage.IsGCS(p) {
		return p
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// specials reads [CLS] and [SEP] from the vocabulary, after checking it is
// the one the sources were tokenized with.
func specials(ctx context.Context, vocab string, m *manifest.Manifest) (cls, sep int32, err error) {
	data, err := storage.ReadFile(ctx, vocab)
	if err != nil {
		return 0, 0, fmt.Errorf("pack: vocabulary: %w; fix tokenizer.vocab in the job spec", err)
	}
	tok, err := wordpiece.Load(bytes.NewReader(data), m.Tokenizer.Lowercase)
	if err != nil {
		return 0, 0, fmt.Errorf("pack: %s: %w", vocab, err)
	}
	if tok.SHA256() != m.Tokenizer.VocabSHA256 {
		return 0, 0, fmt.Errorf("pack: %s is not the vocabulary the shards were tokenized with (sha256 %s, the manifest's %s); re-run preprocess", vocab, tok.SHA256(), m.Tokenizer.VocabSHA256)
	}
	return tok.CLS(), tok.SEP(), nil
}

func removeIfExists(ctx context.Context, p string) error {
	ok, err := storage.Exists(ctx, p)
	if err != nil || !ok {
		return err
	}
	return storage.Remove(ctx, p)
}

// buildManifest counts the packed rows and tokens of each split and records
// the shards.
func buildManifest(ctx context.Context, cfg Config, src *manifest.Manifest, fp string) (*manifest.Manifest, error) {
	m := &manifest.Manifest{FormatVersion: manifest.FormatVersion, Fingerprint: fp, Created: time.Now().UTC().Truncate(time.Second),
		Tokenizer: src.Tokenizer, Tasks: map[string]manifest.Task{}}
	t := manifest.Task{Type: manifest.MaskedLM, Labels: []string{}, Splits: map[string]manifest.Split{}}
	var sources []string
	for _, name := range cfg.Sources {
		sources = append(sources, src.Tasks[name].Splits[tpack.Train].Sources...)
	}
	for _, split := range []string{tpack.Train, tpack.Validation} {
		st := manifest.Split{Sources: slices.Clone(sources)}
		for i := range cfg.Shards {
			rel := shards.RelPath(Task, split, i, cfg.Shards)
			rows, toks, err := count(ctx, storage.Join(cfg.Out, rel))
			if err != nil {
				return nil, err
			}
			st.Examples += rows
			st.Tokens += toks
			st.Shards = append(st.Shards, rel)
		}
		t.Splits[split] = st
	}
	m.Tasks[Task] = t
	return m, m.RecordShards(ctx, cfg.Out)
}

// count streams a shard and returns its rows and tokens.
func count(ctx context.Context, p string) (rows, tokens int64, err error) {
	r, err := shards.Open(ctx, p)
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	buf := make([]shards.Row, 256)
	for {
		n, err := r.Read(buf)
		for _, row := range buf[:n] {
			rows++
			tokens += int64(len(row.InputIDs))
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return rows, tokens, nil
		}
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", p, err)
		}
	}
}
