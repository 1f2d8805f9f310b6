package evaluate

// The driver's half before the pipeline: read the manifest and the
// checkpoints, refuse mismatches, and plan the row ranges to score.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/model/scoring"
	"github.com/taskweave/taskweave/transforms/score"
)

// rowTasks names the tasks whose rows t scores: its own, or for a masked
// LM over other tasks' text, theirs.
func rowTasks(t scoring.Task) []string {
	if t.Kind == model.MaskedLM && len(t.Source) > 0 {
		return t.Source
	}
	return []string{t.Name}
}

// plan is what the driver decided before running the pipeline.
type plan struct {
	manifest *manifestFile
	refs     []score.ShardRef
	specs    []scoring.Task
	models   []ModelInfo
	report   *Report
}

// modelPath is a checkpoint to score: "model" or "compare", and where.
type modelPath struct{ name, path string }

// prepare reads the manifest and the checkpoint(s) and refuses mismatches
// before anything is scored: the checkpoints against the shards, the tasks
// to score, each task's heads, then the shard ranges to read.
func prepare(ctx context.Context, o Options) (*plan, error) {
	man, err := readManifest(ctx, o.Data)
	if err != nil {
		return nil, err
	}
	pl := &plan{manifest: man}
	rep := &Report{FormatVersion: 1, Created: time.Now().UTC().Format(time.RFC3339), Split: o.Split,
		Data: DataInfo{Path: o.Data, Manifest: man.path, ManifestSHA256: man.sha256, Fingerprint: man.Fingerprint,
			VocabSHA256: man.Tokenizer.VocabSHA256}}
	pl.report = rep

	paths := []modelPath{{"model", o.Model}}
	if o.Compare != "" {
		paths = append(paths, modelPath{"compare", o.Compare})
	}
	headOf, err := pl.loadModels(ctx, man, paths)
	if err != nil {
		return nil, err
	}
	rep.Models = pl.models
	names, sourced, textless := splitTasks(man, o.Split, headOf[0])
	if names, err = chooseTasks(o, man, names, textless, rep); err != nil {
		return nil, err
	}
	read := map[string]bool{} // tasks whose shards the pipeline reads
	for _, name := range names {
		if err := pl.addTask(name, man, paths, headOf, sourced[name], read); err != nil {
			return nil, err
		}
	}
	if err := pl.readRanges(ctx, man, o.Split, read); err != nil {
		return nil, err
	}
	if len(pl.specs) == 0 {
		return nil, fmt.Errorf("evaluate: nothing to score: the checkpoint has no head for any task of the %s split (%s)", o.Split, strings.Join(names, ", "))
	}
	return pl, nil
}

// loadModels reads each checkpoint's metadata, refuses one tokenized
// otherwise than the shards, and returns each one's heads by task.
func (pl *plan) loadModels(ctx context.Context, man *manifestFile, paths []modelPath) ([]map[string]checkpoint.TaskInfo, error) {
	headOf := make([]map[string]checkpoint.TaskInfo, len(paths))
	for i, mp := range paths {
		info, meta, err := inspectCheckpoint(ctx, mp.name, mp.path)
		if err != nil {
			return nil, err
		}
		if stripSHA(info.VocabSHA256) != stripSHA(man.Tokenizer.VocabSHA256) {
			return nil, fmt.Errorf("evaluate: checkpoint %s has vocabulary sha256:%s but the shards in %s were tokenized with vocab_sha256 sha256:%s; evaluate a checkpoint trained on these shards, or re-run preprocess with the checkpoint's vocab.txt",
				mp.path, stripSHA(info.VocabSHA256), man.path, stripSHA(man.Tokenizer.VocabSHA256))
		}
		if meta.Lowercase != man.Tokenizer.Lowercase {
			return nil, fmt.Errorf("evaluate: checkpoint %s lowercases text (%v) but the shards in %s were tokenized with lowercase=%v; re-run preprocess with the checkpoint's casing",
				mp.path, meta.Lowercase, man.path, man.Tokenizer.Lowercase)
		}
		headOf[i] = map[string]checkpoint.TaskInfo{}
		for _, t := range meta.Tasks {
			headOf[i][t.Name] = t
		}
		pl.models = append(pl.models, info)
	}
	return headOf, nil
}

// splitTasks lists the tasks of the split. A masked LM over other tasks'
// text (source) is the evaluated checkpoint's (heads), not the manifest's:
// it is a task of the split when one of its sources is. sourced gives such
// a masked LM's source tasks with the split, textless the masked LMs whose
// text is not in these shards, and why.
func splitTasks(man *manifestFile, split string, heads map[string]checkpoint.TaskInfo) (names []string, sourced map[string][]string, textless map[string]string) {
	for name, t := range man.Tasks {
		if _, ok := t.Splits[split]; ok {
			names = append(names, name)
		}
	}
	sourced, textless = map[string][]string{}, map[string]string{}
	for name, h := range heads {
		if h.Type != string(model.MaskedLM) {
			continue
		}
		if _, ok := man.Tasks[name]; ok {
			continue // its own shards
		}
		if len(h.Source) == 0 {
			textless[name] = fmt.Sprintf("a masked_lm head without shards of its own in %s, and the checkpoint's tasks.json (written before it recorded source) does not say whose text it was trained on; retrain it to score it", man.path)
			continue
		}
		srcs, err := man.TextSources(man.path, name, h.Source, split)
		if err != nil {
			textless[name] = err.Error()
			var me *manifest.MissingSourcesError
			if errors.As(err, &me) {
				textless[name] = fmt.Sprintf("a masked_lm head trained on the text of %s, which %s does not have; evaluate it on the shards it was trained on", strings.Join(me.Missing, ", "), man.path)
			}
			continue
		}
		for _, src := range srcs {
			if src.HasSplit {
				sourced[name] = append(sourced[name], src.Task)
			}
		}
		if len(sourced[name]) > 0 {
			names = append(names, name)
		}
	}
	return names, sourced, textless
}

// chooseTasks narrows names to the tasks asked for (o.Tasks) and records
// the masked LMs that cannot be scored.
func chooseTasks(o Options, man *manifestFile, names []string, textless map[string]string, rep *Report) ([]string, error) {
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("evaluate: %s has no task with a %q split; pick a split it has (--split)", man.path, o.Split)
	}
	if len(o.Tasks) > 0 {
		for _, t := range o.Tasks {
			if !slices.Contains(names, t) {
				return nil, fmt.Errorf("evaluate: --tasks names %q but %s has no %s split for it (tasks with that split: %s)",
					t, man.path, o.Split, strings.Join(names, ", "))
			}
		}
		names = slices.Clone(o.Tasks)
		sort.Strings(names)
	}
	if len(o.Tasks) == 0 {
		for _, name := range slices.Sorted(maps.Keys(textless)) {
			rep.Unscored = append(rep.Unscored, Unscored{Task: name, Model: "model", Reason: textless[name]})
		}
	}
	return names, nil
}

// addTask matches task name with each checkpoint's head and, when the
// evaluated checkpoint has one, adds its scoring spec and the tasks whose
// rows it reads (read).
func (pl *plan) addTask(name string, man *manifestFile, paths []modelPath, headOf []map[string]checkpoint.TaskInfo, sourced []string, read map[string]bool) error {
	rep := pl.report
	mt, own := man.Tasks[name]
	kind := model.HeadKind(mt.Type)
	if !own {
		kind = model.MaskedLM
	}
	var by []string // checkpoints that score this task
	for i, mp := range paths {
		h, ok := headOf[i][name]
		if !ok {
			rep.Unscored = append(rep.Unscored, Unscored{Task: name, Model: mp.name,
				Reason: fmt.Sprintf("checkpoint %s has no head for task %q (its heads: %s)", mp.path, name, headNames(headOf[i]))})
			if i == 0 {
				break // the evaluated checkpoint decides what is scored
			}
			continue
		}
		if h.Type != string(kind) {
			return fmt.Errorf("evaluate: task %s is %s in %s but checkpoint %s has a %s head for it; evaluate on shards made for this checkpoint",
				name, kind, man.path, mp.path, h.Type)
		}
		if kind != model.SequenceRegression && kind != model.MaskedLM && !slices.Equal(h.Labels, mt.Labels) {
			return fmt.Errorf("evaluate: task %s: checkpoint %s has labels %s [%s] but %s lists labels %s [%s]; the label ids would not mean the same classes — re-run preprocess with the checkpoint's label list or evaluate the matching checkpoint",
				name, mp.path, labelsFingerprint(h.Labels), strings.Join(h.Labels, " "), man.path, labelsFingerprint(mt.Labels), strings.Join(mt.Labels, " "))
		}
		by = append(by, mp.name)
	}
	if len(by) == 0 || by[0] != "model" {
		return nil
	}
	for i := range pl.models {
		if slices.Contains(by, pl.models[i].Name) {
			pl.models[i].Scored = append(pl.models[i].Scored, name)
		}
	}
	spec := scoring.Task{Name: name, Kind: kind, Labels: mt.Labels, TagScheme: mt.TagScheme}
	if kind != model.TokenClassification {
		spec.TagScheme = ""
	}
	rows := []string{name}
	if kind == model.MaskedLM {
		// Both checkpoints are scored on the pieces the evaluated one's
		// dev evaluation masked: its whole-word flag and sources decide.
		spec.Labels, spec.WholeWord, spec.Source = nil, headOf[0][name].WholeWord, sourced
		if len(spec.Source) > 0 {
			rows = spec.Source
		}
	}
	pl.specs = append(pl.specs, spec)
	for _, r := range rows {
		read[r] = true
	}
	return nil
}

// readRanges splits the shards of the tasks in read into the row ranges
// the pipeline reads. A task that labels another read task's rows (a
// group, input_from in the manifest) is read with it: each range of the
// input task's shard carries the same part of its members' shards.
func (pl *plan) readRanges(ctx context.Context, man *manifestFile, split string, read map[string]bool) error {
	members := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(read)) {
		if in := man.Tasks[name].InputFrom; in != "" && read[in] {
			members[in] = append(members[in], name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(read)) {
		if in := man.Tasks[name].InputFrom; in != "" && read[in] {
			continue // read with its input task
		}
		files, err := pl.shardFiles(ctx, man, name, split)
		if err != nil {
			return err
		}
		refs := make([]score.ShardRef, len(files))
		for j, f := range files {
			refs[j] = score.ShardRef{Task: name, Path: f, Part: path.Base(f)}
		}
		for _, m := range members[name] {
			mfiles, err := pl.shardFiles(ctx, man, m, split)
			if err != nil {
				return err
			}
			for j := range refs {
				if len(mfiles) != len(files) || path.Base(mfiles[j]) != refs[j].Part {
					return fmt.Errorf("evaluate: task %s labels the rows of task %s (input_from in %s), but their %s shards do not pair up (%d and %d files); re-run preprocess",
						m, name, man.path, split, len(mfiles), len(files))
				}
				refs[j].Members = append(refs[j].Members, score.Member{Task: m, Path: mfiles[j]})
			}
		}
		for _, ref := range refs {
			parts, err := rowRanges(ctx, ref, rangeRows)
			if err != nil {
				return err // names the shard and the fix
			}
			pl.refs = append(pl.refs, parts...)
		}
	}
	return nil
}

// shardFiles lists and checks one task's shards of split.
func (pl *plan) shardFiles(ctx context.Context, man *manifestFile, name, split string) ([]string, error) {
	files, err := man.ShardPaths(man.path, name, split)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	if err := man.CheckShards(ctx, man.path, files); err != nil {
		return nil, err // names the shard, the manifest and the fix
	}
	return files, nil
}

func headNames(m map[string]checkpoint.TaskInfo) string {
	var n []string
	for k := range m {
		n = append(n, k)
	}
	sort.Strings(n)
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ", ")
}

// labelsFingerprint names a label list compactly in error messages.
func labelsFingerprint(labels []string) string {
	sum := sha256.Sum256([]byte(strings.Join(labels, "\n")))
	return "sha256:" + hex.EncodeToString(sum[:])[:16]
}

// inspectCheckpoint loads a checkpoint's metadata (and weights, which also
// validates them) and fingerprints its files.
func inspectCheckpoint(ctx context.Context, name, dir string) (ModelInfo, checkpoint.Meta, error) {
	_, meta, err := checkpoint.Load(storage.Dir(ctx, dir))
	if err != nil {
		return ModelInfo{}, meta, fmt.Errorf("evaluate: loading checkpoint %s: %w", dir, err)
	}
	info := ModelInfo{Name: name, Path: dir, Files: map[string]string{}}
	whole := sha256.New()
	for _, f := range []string{"config.json", "model.safetensors", "vocab.txt", "tasks.json"} {
		r, err := storage.Open(ctx, storage.Join(dir, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue // an imported Hugging Face checkpoint has no tasks.json
		}
		if err != nil {
			return info, meta, err
		}
		h := sha256.New()
		_, err = io.Copy(h, r)
		r.Close()
		if err != nil {
			return info, meta, fmt.Errorf("evaluate: reading %s: %w", storage.Join(dir, f), err)
		}
		sum := hex.EncodeToString(h.Sum(nil))
		info.Files[f] = "sha256:" + sum
		fmt.Fprintf(whole, "%s %s\n", f, sum)
		if f == "vocab.txt" {
			info.VocabSHA256 = sum
		}
	}
	info.Fingerprint = "sha256:" + hex.EncodeToString(whole.Sum(nil))
	for _, t := range meta.Tasks {
		if !t.Auxiliary {
			info.Tasks = append(info.Tasks, t.Name)
		}
	}
	return info, meta, nil
}

// rangeRows is how many shard rows one read range holds: small enough that
// a shard is read by several workers, large enough that opening the file
// (a footer read, ranged on gs://) stays a small part of reading it.
var rangeRows int64 = 4096

// rowRanges splits one shard into read ranges of at most n rows.
func rowRanges(ctx context.Context, ref score.ShardRef, n int64) ([]score.ShardRef, error) {
	r, err := shards.Open(ctx, ref.Path)
	if err != nil {
		return nil, err
	}
	rows := r.NumRows()
	r.Close()
	var out []score.ShardRef
	for start := int64(0); start < rows; start += n {
		part := ref
		part.Start, part.End = start, min(start+n, rows)
		out = append(out, part)
	}
	return out, nil
}
