package evaluate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/taskweave/taskweave/io/mdtable"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/metrics"
	"github.com/taskweave/taskweave/model/scoring"
	"github.com/taskweave/taskweave/transforms/score"
	"github.com/taskweave/taskweave/transforms/writeshards"
)

// Report is report.json.
type Report struct {
	FormatVersion int          `json:"format_version"`
	Created       string       `json:"created"`
	Split         string       `json:"split"`
	Data          DataInfo     `json:"data"`
	Models        []ModelInfo  `json:"models"`
	Tasks         []TaskReport `json:"tasks"`
	Unscored      []Unscored   `json:"unscored_tasks"`
	Throughput    Throughput   `json:"throughput"`
	Workers       Workers      `json:"workers"`
	Charts        []string     `json:"charts"`
	DryRun        bool         `json:"-"` // Run only planned: nothing was scored or written
}

// DataInfo identifies the shards scored.
type DataInfo struct {
	Path           string `json:"path"`
	Manifest       string `json:"manifest"`
	ManifestSHA256 string `json:"manifest_sha256"`
	Fingerprint    string `json:"fingerprint"` // the manifest's own inputs+config fingerprint
	VocabSHA256    string `json:"vocab_sha256"`
}

// ModelInfo identifies one checkpoint: Name is "model" or "compare".
type ModelInfo struct {
	Name        string            `json:"name"`
	Path        string            `json:"path"`
	Fingerprint string            `json:"fingerprint"` // sha256 over the per-file hashes
	Files       map[string]string `json:"files"`
	VocabSHA256 string            `json:"vocab_sha256"`
	Tasks       []string          `json:"tasks"`               // the checkpoint's (non-auxiliary) heads
	Scored      []string          `json:"scored"`              // the tasks it scored here
	Precision   string            `json:"precision,omitempty"` // the products' number format; "" = fp32
}

// TaskReport is one task's figures per checkpoint, with deltas
// (compare − model) when two were scored. A masked LM over other tasks'
// text lists them in Source; its ManifestExamples and RejectedUpstream are
// theirs, summed.
type TaskReport struct {
	Task             string         `json:"task"`
	Kind             model.HeadKind `json:"kind"`
	TagScheme        string         `json:"tag_scheme,omitempty"`
	Source           []string       `json:"source,omitempty"`
	ManifestExamples int64          `json:"manifest_examples"`
	LooseIOB2        int64          `json:"loose_iob2"` // the manifest's count of gold I-X tags starting a chunk
	// RejectedUpstream counts the split's records preprocessing rejected
	// (the manifest's count): they are in no shard, so no figure here
	// covers them.
	RejectedUpstream int64                        `json:"rejected_upstream"`
	Results          map[string]score.TaskMetrics `json:"results"`
	Deltas           []Delta                      `json:"deltas,omitempty"`
}

// Delta is one metric of both checkpoints and their difference.
type Delta struct {
	Metric  string  `json:"metric"`
	Model   float64 `json:"model"`
	Compare float64 `json:"compare"`
	Delta   float64 `json:"delta"`
}

// Unscored is a task of the split that a checkpoint has no head for, or a
// masked LM of a checkpoint whose text evaluate cannot find (its tasks.json
// predates source).
type Unscored struct {
	Task   string `json:"task"`
	Model  string `json:"model"`
	Reason string `json:"reason"`
}

// Throughput is the pipeline's wall time and the WordPiece tokens it scored
// (summed over checkpoints).
type Throughput struct {
	Seconds         float64 `json:"seconds"`
	Examples        int64   `json:"examples"`
	Tokens          int64   `json:"tokens"`
	TokensPerSecond float64 `json:"tokens_per_second"`
}

func labelAt(labels []string, i int) string {
	if i < len(labels) {
		return labels[i]
	}
	return fmt.Sprint(i)
}

func deltas(a, b score.TaskMetrics) []Delta {
	bv := map[string]float64{}
	for _, n := range b.Metrics() {
		bv[n.Name] = n.Value
	}
	var out []Delta
	for _, n := range a.Metrics() {
		if v, ok := bv[n.Name]; ok {
			out = append(out, Delta{Metric: n.Name, Model: n.Value, Compare: v, Delta: v - n.Value})
		}
	}
	return out
}

func writeReport(ctx context.Context, out string, rep *Report) error {
	charts, err := writeCharts(ctx, out, rep)
	if err != nil {
		return err
	}
	rep.Charts = charts
	if rep.Unscored == nil {
		rep.Unscored = []Unscored{}
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := storage.WriteFile(ctx, storage.Join(out, "report.json"), append(b, '\n')); err != nil {
		return err
	}
	return storage.WriteFile(ctx, storage.Join(out, "report.md"), markdown(rep))
}

// markdown writes report.md: where the figures come from, then one section
// per task.
func markdown(rep *Report) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Evaluation report: split %s\n\n", rep.Split)
	src := mdtable.New(mdtable.L(""), mdtable.L("path"), mdtable.L("fingerprint"))
	src.Row("data", "`"+rep.Data.Path+"`", fmt.Sprintf("`%s` (manifest `%s`)", rep.Data.Fingerprint, rep.Data.ManifestSHA256))
	for _, m := range rep.Models {
		src.Row(m.Name, "`"+m.Path+"`", "`"+m.Fingerprint+"`")
	}
	b.WriteString(src.String())
	fmt.Fprintf(&b, "\nScored %d examples, %d WordPiece tokens in %.1f s (%.0f tokens/s).\n",
		rep.Throughput.Examples, rep.Throughput.Tokens, rep.Throughput.Seconds, rep.Throughput.TokensPerSecond)
	if len(rep.Workers.BLAS) > 0 {
		fmt.Fprintf(&b, "Scored by workers with BLAS: %s.\n", strings.Join(rep.Workers.BLAS, ", "))
	}
	for _, c := range rep.Charts {
		fmt.Fprintf(&b, "\n![%s](%s)\n", c, c)
	}
	for _, t := range rep.Tasks {
		taskSection(&b, rep, t)
	}
	if len(rep.Unscored) > 0 {
		tb := mdtable.New(mdtable.L("task"), mdtable.L("checkpoint"), mdtable.L("reason"))
		for _, u := range rep.Unscored {
			tb.Row(u.Task, u.Model, u.Reason)
		}
		b.WriteString("\n## Tasks not scored\n\n" + tb.String())
	}
	return b.Bytes()
}

// taskSection writes one task's section of report.md: its counts, its
// metrics (with the deltas against the compared model) and the tables of
// its kind.
func taskSection(b *bytes.Buffer, rep *Report, t TaskReport) {
	m := t.Results["model"]
	fmt.Fprintf(b, "\n## %s (%s", t.Task, t.Kind)
	if t.TagScheme != "" {
		fmt.Fprintf(b, ", %s", t.TagScheme)
	}
	fmt.Fprintf(b, ")\n\n%d examples", m.Examples)
	if m.Sentences != m.Examples {
		fmt.Fprintf(b, " (%d sentences once windows are joined)", m.Sentences)
	}
	if m.Unlabeled > 0 {
		fmt.Fprintf(b, " (%d without gold labels, not scored)", m.Unlabeled)
	}
	if m.Words > 0 {
		fmt.Fprintf(b, ", %d words", m.Words)
	}
	fmt.Fprintf(b, ", %d tokens.", m.Tokens)
	if t.RejectedUpstream > 0 {
		fmt.Fprintf(b, " %d records of this split were rejected by preprocessing and are not scored (%s beside the shards).", t.RejectedUpstream, writeshards.RejectedPath(t.Task))
	}
	b.WriteString("\n\n")
	if len(t.Deltas) > 0 {
		tb := mdtable.New(mdtable.L("metric"), mdtable.R("model"), mdtable.R("compare"), mdtable.R("Δ"), mdtable.R("baseline"))
		for _, d := range t.Deltas {
			tb.Row(d.Metric, fmt.Sprintf("%.4f", d.Model), fmt.Sprintf("%.4f", d.Compare), fmt.Sprintf("%+.4f", d.Delta), baselineCell(m.Result, d.Metric))
		}
		b.WriteString(tb.String())
	} else {
		tb := mdtable.New(mdtable.L("metric"), mdtable.R("value"), mdtable.R("baseline"))
		for _, n := range m.Metrics() {
			tb.Row(n.Name, fmt.Sprintf("%.4f", n.Value), baselineCell(m.Result, n.Name))
		}
		b.WriteString(tb.String())
	}
	baselineNote(b, m.Result)
	switch {
	case m.Class != nil:
		classTables(b, m)
	case m.MaskedLM != nil:
		fmt.Fprintf(b, "\nMasked-LM figures over %d masked pieces (%d restored) of", m.MaskedLM.Tokens, m.MaskedLM.Correct)
		if len(t.Source) > 0 {
			fmt.Fprintf(b, " the %s text of %s", rep.Split, strings.Join(t.Source, ", "))
		} else {
			fmt.Fprintf(b, " this task's %s text", rep.Split)
		}
		fmt.Fprintf(b, ": every row masked as training's dev evaluation masks it (the same pieces whatever the batching), perplexity = exp(mean cross-entropy over them). "+
			"predictions/%s/ holds each row's masked, correct and summed NLL.\n", t.Task)
	case m.Entities != nil:
		entityTable(b, t, m.Entities)
	}
}

// baselineCell is a metric's baseline with the trivial predictor's name
// ("0.5092 (majority class)"), or empty when the metric has none.
func baselineCell(r scoring.Result, metric string) string {
	if b, ok := r.Baseline(metric); ok {
		return fmt.Sprintf("%.4f (%s)", b.Value, b.Name)
	}
	return ""
}

// baselineNote says what each trivial predictor of the table predicts.
func baselineNote(b *bytes.Buffer, r scoring.Result) {
	var rules []string
	for _, bl := range r.Baselines {
		rule := bl.Name + ": " + bl.Rule
		if !slices.Contains(rules, rule) {
			rules = append(rules, rule)
		}
	}
	if len(rules) > 0 {
		fmt.Fprintf(b, "\nBaselines (from this split's gold labels) — %s.\n", strings.Join(rules, "; "))
	}
}

// classTables writes a classification task's per-class figures and its
// confusion matrix.
func classTables(b *bytes.Buffer, m score.TaskMetrics) {
	tb := mdtable.New(mdtable.L("class"), mdtable.R("precision"), mdtable.R("recall"), mdtable.R("F1"), mdtable.R("support"))
	for i, c := range m.Class.PerClass {
		tb.Rowf("%s %.4f %.4f %.4f %d", labelAt(m.Labels, i), c.Precision, c.Recall, c.F1, c.Support)
	}
	b.WriteString("\n" + tb.String())
	cm := mdtable.New(mdtable.L("gold \\ pred"))
	for i := range m.Class.Confusion {
		cm.Add(mdtable.R(labelAt(m.Labels, i)))
	}
	for i, row := range m.Class.Confusion {
		cells := []string{labelAt(m.Labels, i)}
		for _, v := range row {
			cells = append(cells, fmt.Sprint(v))
		}
		cm.Row(cells...)
	}
	b.WriteString("\nConfusion matrix (rows gold, columns predicted):\n\n" + cm.String())
}

// entityTable writes a token task's entity scores (conlleval chunk rules).
func entityTable(b *bytes.Buffer, t TaskReport, e *metrics.EntityResult) {
	tb := mdtable.New(mdtable.L("type"), mdtable.R("precision"), mdtable.R("recall"), mdtable.R("F1"), mdtable.R("gold"), mdtable.R("predicted"), mdtable.R("correct"))
	types := append([]string(nil), e.Types...)
	sort.Strings(types)
	for _, ty := range types {
		c := e.PerType[ty]
		tb.Rowf("%s %.4f %.4f %.4f %d %d %d", ty, c.Precision, c.Recall, c.F1, c.Support, c.Predicted, c.Correct)
	}
	c := e.Micro
	tb.Rowf("%s %.4f %.4f %.4f %d %d %d", "**micro**", c.Precision, c.Recall, c.F1, c.Support, c.Predicted, c.Correct)
	fmt.Fprintf(b, "\nEntity scores (conlleval chunk rules, scheme %s):\n\n%s", e.Scheme, tb.String())
	if e.GoldInvalid > 0 || e.PredInvalid > 0 {
		fmt.Fprintf(b, "\nIll-formed %s tags: %d gold, %d predicted (read with conlleval's rules).\n", e.Scheme, e.GoldInvalid, e.PredInvalid)
	}
	if t.LooseIOB2 > 0 {
		fmt.Fprintf(b, "\nThe source files of this split have %d I- tags that start a chunk (loose IOB2, counted by preprocess); they are kept and read as chunk starts, as conlleval does.\n", t.LooseIOB2)
	}
}
