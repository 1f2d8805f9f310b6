package preprocess

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/taskweave/taskweave/internal/beamerr"
	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/pipelines/launch"
	"github.com/taskweave/taskweave/text/wordpiece"
	"github.com/taskweave/taskweave/transforms/splitstats"
	"github.com/taskweave/taskweave/transforms/writeshards"
)

// Options are the launcher's settings, which do not change the output.
type Options struct {
	Runner   string    // Beam runner name; "" = prism
	Force    bool      // run even when the manifest's fingerprint matches
	DryRun   bool      // print what would run; write and delete nothing (Beam's --dry_run sets it too)
	Progress io.Writer // where the progress line goes; nil = nowhere
	Log      io.Writer // where a dry run's plan goes; nil = nowhere
}

// Result is what a run did.
type Result struct {
	UpToDate bool // nothing was written: the manifest matched
	DryRun   bool // nothing was run (--dry_run); Manifest is nil
	// Stale says why shards were rebuilt although the fingerprint matched:
	// each shard that is missing or no longer has its recorded size and checksum.
	Stale []string
	// Capped names each split that got fewer shards than asked for, since
	// it has fewer records than that, with the count it got.
	Capped       []string
	ManifestPath string
	Manifest     *manifest.Manifest
	Elapsed      time.Duration
}

// fingerprintConfig is the part of the config that decides the output's
// bytes; Out is left out so a moved output directory is still recognised.
type fingerprintConfig struct {
	ShardFormat         string
	Shards              int
	MaxRejectedFraction float64
	Lowercase           bool
	MaxSeqLen           int
	Tasks               []Task
}

// Fingerprint hashes cfg and the bytes of every input file and the vocabulary.
// Paths are taken absolute, so the spelling of a path does not change it.
func Fingerprint(ctx context.Context, cfg Config) (string, error) {
	cfg, err := cfg.Resolve()
	if err != nil {
		return "", err
	}
	// The inputs are hashed below with a message about corpus paths; the
	// vocabulary is set elsewhere, so its absence gets its own message.
	if ok, err := storage.Exists(ctx, cfg.Vocab); err == nil && !ok {
		return "", fmt.Errorf("vocabulary %s: not found; fix tokenizer.vocab in the job spec (--vocab for a quick run)", cfg.Vocab)
	}
	fc := fingerprintConfig{ShardFormat: shards.FormatVersion, Shards: cfg.Shards, MaxRejectedFraction: cfg.MaxRejectedFraction,
		Lowercase: cfg.Lowercase, MaxSeqLen: cfg.MaxSeqLen, Tasks: cfg.Tasks}
	return manifest.Fingerprint(ctx, fc, append(inputFiles(cfg), cfg.Vocab))
}

func inputFiles(cfg Config) []string {
	var out []string
	for _, t := range cfg.Tasks {
		for _, split := range t.splits() {
			out = append(out, t.Paths[split]...)
		}
	}
	return out
}

// inspect sees every pipeline Run builds, before it runs (tests check the
// paths in it).
var inspect = func(*beam.Pipeline) {}

// Run preprocesses cfg's corpora into cfg.Out, unless the manifest there
// already has this config's and these inputs' fingerprint.
func Run(ctx context.Context, cfg Config, opt Options) (*Result, error) {
	start := time.Now()
	cfg, runner, fp, err := prepare(ctx, cfg, opt)
	if err != nil {
		return nil, err
	}
	res := &Result{ManifestPath: manifest.Path(cfg.Out)}
	if !opt.Force {
		if done, err := checkUpToDate(ctx, cfg, fp, res); err != nil || done {
			res.Elapsed = time.Since(start)
			return res, err
		}
	}
	tok, err := loadTokenizer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	tag := fp[len("sha256:"):][:16]
	summaryPath := storage.Join(cfg.Out, ".preprocess-summary-"+tag+".json")
	tmp := storage.Join(cfg.Out, ".preprocess-runs-"+tag)
	p, s := beam.NewPipelineWithRoot()
	Build(s, cfg, summaryPath, tmp)
	inspect(p)
	if opt.DryRun || launch.DryRun() {
		// Checked before anything is deleted: a dry run leaves the old
		// output exactly as it was.
		if _, err := launch.Execute(ctx, runner, p, true, cfg.plan(), opt.Log); err != nil {
			return nil, beamerr.Clean("preprocess", err)
		}
		res.DryRun, res.Elapsed = true, time.Since(start)
		return res, nil
	}
	if err := clearOutput(ctx, cfg, res.ManifestPath, tmp); err != nil {
		return nil, err
	}
	stop := startProgress(opt.Progress, start)
	_, err = launch.Execute(ctx, runner, p, false, "", nil)
	stop()
	// The run files are spent whether the pipeline succeeded or not.
	if rerr := writeshards.RemoveRuns(ctx, tmp); err == nil && rerr != nil {
		return nil, rerr
	}
	if err != nil {
		return nil, beamerr.Clean("preprocess", err)
	}
	sum, err := readSummary(ctx, cfg, runner, summaryPath)
	if err != nil {
		return nil, err
	}
	if res.Manifest, err = finish(ctx, cfg, fp, tok, sum, res.ManifestPath); err != nil {
		return nil, err
	}
	if err := storage.Remove(ctx, summaryPath); err != nil {
		return nil, err
	}
	res.Capped = capped(cfg, sum)
	res.Elapsed = time.Since(start)
	return res, nil
}

// prepare resolves and checks cfg and fingerprints its inputs.
func prepare(ctx context.Context, cfg Config, opt Options) (Config, string, string, error) {
	cfg, err := cfg.Resolve()
	if err != nil {
		return cfg, "", "", err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, "", "", err
	}
	runner := opt.Runner
	if runner == "" {
		runner = launch.DefaultRunner
	}
	if err := launch.Check(runner, cfg.paths()); err != nil {
		return cfg, "", "", err
	}
	if err := checkInputs(ctx, cfg); err != nil {
		return cfg, "", "", err
	}
	fp, err := Fingerprint(ctx, cfg)
	return cfg, runner, fp, err
}

// checkUpToDate reports whether the manifest already describes this run's
// output with every shard intact; stale shards are listed in res.
func checkUpToDate(ctx context.Context, cfg Config, fp string, res *Result) (bool, error) {
	up, m, err := manifest.UpToDate(ctx, res.ManifestPath, fp)
	if err != nil {
		return false, fmt.Errorf("%w (or run with --force)", err)
	}
	if !up {
		return false, nil
	}
	stale, err := m.VerifyShards(ctx, cfg.Out)
	if err != nil {
		return false, err
	}
	if len(stale) == 0 {
		res.UpToDate, res.Manifest = true, m
		return true, nil
	}
	res.Stale = stale
	return false, nil
}

// clearOutput removes what the run replaces. The manifest goes first, so a
// run that fails half-way never leaves a manifest describing shards that
// were partly overwritten; run files a killed run left go too.
func clearOutput(ctx context.Context, cfg Config, manifestPath, tmp string) error {
	if err := removeIfExists(ctx, manifestPath); err != nil {
		return err
	}
	for _, t := range cfg.Tasks {
		if err := removeIfExists(ctx, storage.Join(cfg.Out, writeshards.RejectedPath(t.Name))); err != nil {
			return err
		}
	}
	return writeshards.RemoveRuns(ctx, tmp)
}

// readSummary reads the counts the pipeline's workers wrote.
func readSummary(ctx context.Context, cfg Config, runner, summaryPath string) (splitstats.Summary, error) {
	sum, err := splitstats.Read(ctx, summaryPath)
	if errors.Is(err, fs.ErrNotExist) {
		return sum, fmt.Errorf("the pipeline succeeded on %s but its summary is not at %s, where the workers write it: "+
			"the workers and this launcher do not see the same %s (on a cluster, use an output location both reach, e.g. gs://)",
			runner, summaryPath, cfg.Out)
	}
	if err != nil {
		return sum, fmt.Errorf("reading the pipeline's summary: %w", err)
	}
	if err := checkRejected(cfg, sum); err != nil {
		_ = storage.Remove(ctx, summaryPath)
		return sum, err
	}
	return sum, nil
}

// finish writes the manifest for a successful run and removes shards of an
// older shard count.
func finish(ctx context.Context, cfg Config, fp string, tok *wordpiece.Tokenizer, sum splitstats.Summary, manifestPath string) (*manifest.Manifest, error) {
	m := buildManifest(cfg, fp, tok, sum)
	if err := m.RecordShards(ctx, cfg.Out); err != nil {
		return nil, err
	}
	if err := manifest.Write(ctx, manifestPath, m); err != nil {
		return nil, err
	}
	if err := removeStaleShards(ctx, cfg.Out, m); err != nil {
		return nil, err
	}
	return m, nil
}

// capped lists the splits that got fewer shards than asked for, because
// they have fewer records.
func capped(cfg Config, sum splitstats.Summary) []string {
	var out []string
	for _, t := range cfg.Tasks {
		for _, split := range t.splits() {
			recs := sum.Scan.Records(t.Name, split)
			if n := writeshards.Count(cfg.Shards, recs); n < cfg.Shards {
				out = append(out, fmt.Sprintf("task %s, split %s: %d records, so %d shards instead of the %d asked for (preprocess.shards or --shards): a shard holds at least one record",
					t.Name, split, recs, n, cfg.Shards))
			}
		}
	}
	return out
}

// checkInputs fails early, before any Beam machinery starts, on a missing
// file, with the spec key to fix.
func checkInputs(ctx context.Context, cfg Config) error {
	var errs []error
	for _, t := range cfg.Tasks {
		for _, split := range t.splits() {
			for _, p := range t.Paths[split] {
				ok, err := storage.Exists(ctx, p)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", p, err))
				} else if !ok {
					errs = append(errs, fmt.Errorf("%s: file not found (task %s, split %s); fix %s", p, t.Name, split, t.Setting("paths."+split)))
				}
			}
		}
	}
	return errors.Join(errs...)
}

func loadTokenizer(ctx context.Context, cfg Config) (*wordpiece.Tokenizer, error) {
	r, err := storage.Open(ctx, cfg.Vocab)
	if err != nil {
		return nil, fmt.Errorf("vocabulary: %w; fix tokenizer.vocab in the job spec (or --vocab)", err)
	}
	defer r.Close()
	tok, err := wordpiece.Load(r, cfg.Lowercase)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Vocab, err)
	}
	return tok, nil
}

// checkRejected applies max_rejected_fraction per task and split, counting
// the records the encoder set aside too (the reader checked each file for
// its own rejections already).
func checkRejected(cfg Config, sum splitstats.Summary) error {
	var errs []error
	for _, st := range sum.Splits {
		limit := "preprocess.max_rejected_fraction"
		if t, ok := cfg.task(st.Task); ok {
			limit = t.Setting("max_rejected_fraction")
		}
		total := st.Examples + st.Rejected
		if st.Rejected > 0 && float64(st.Rejected) > cfg.MaxRejectedFraction*float64(total) {
			errs = append(errs, fmt.Errorf("task %s, split %s: %d of %d records rejected (%.2f%%), over the limit of %.2f%%; the lines are listed in %s; fix them or raise %s",
				st.Task, st.Split, st.Rejected, total, 100*float64(st.Rejected)/float64(total), 100*cfg.MaxRejectedFraction,
				storage.Join(cfg.Out, writeshards.RejectedPath(st.Task)), limit))
		}
	}
	return errors.Join(errs...)
}

func buildManifest(cfg Config, fp string, tok *wordpiece.Tokenizer, sum splitstats.Summary) *manifest.Manifest {
	m := &manifest.Manifest{
		FormatVersion: manifest.FormatVersion,
		Fingerprint:   fp,
		Created:       time.Now().UTC().Truncate(time.Second),
		Tokenizer: manifest.Tokenizer{VocabSHA256: tok.SHA256(), VocabSize: tok.Size(),
			Lowercase: cfg.Lowercase, MaxSeqLen: cfg.MaxSeqLen},
		Tasks: map[string]manifest.Task{},
	}
	for _, t := range cfg.Tasks {
		mt := manifest.Task{Type: t.Type, Labels: t.Labels, Splits: map[string]manifest.Split{}, InputFrom: t.InputFrom}
		if t.Type == manifest.TokenClassification {
			mt.TagScheme = t.TagScheme
		}
		if len(mt.Labels) == 0 {
			mt.Labels = sum.Scan.Labels(t.Name)
		}
		for _, split := range t.splits() {
			st, _ := sum.Find(t.Name, split)
			ms := manifest.Split{Examples: st.Rows, Tokens: st.Tokens, Truncated: st.Truncated,
				Windows: st.Windows, Rejected: st.Rejected, LooseIOB2: st.LooseIOB2, Sources: slices.Clone(t.Paths[split])}
			n := writeshards.Count(cfg.Shards, sum.Scan.Records(t.Name, split))
			for i := range n {
				ms.Shards = append(ms.Shards, shards.RelPath(t.Name, split, i, n))
			}
			mt.Splits[split] = ms
		}
		m.Tasks[t.Name] = mt
	}
	return m
}

// removeStaleShards deletes part files a previous run with another shard
// count left in a split's directory.
func removeStaleShards(ctx context.Context, out string, m *manifest.Manifest) error {
	for name, t := range m.Tasks {
		for split, s := range t.Splits {
			found, err := storage.List(ctx, storage.Join(out, name, split, "part-*.parquet"))
			if err != nil {
				return err
			}
			for _, f := range found {
				keep := false
				for _, sh := range s.Shards {
					if storage.Join(out, sh) == f {
						keep = true
						break
					}
				}
				if !keep {
					if err := storage.Remove(ctx, f); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func removeIfExists(ctx context.Context, p string) error {
	if err := storage.Remove(ctx, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
