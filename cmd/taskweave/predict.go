package main

// taskweave predict: load a checkpoint through model/checkpoint (ours or an
// imported Hugging Face one, local or gs:// through io/storage.Dir), encode
// each text exactly as preprocess encodes a record (text/align, with
// the checkpoint's vocabulary, casing and max_seq_len), score through
// model/scoring as training and evaluate do, and print each text's label
// with its probability (a softmax over the head's logits; --json adds
// every label's probability and the logits). For token tasks TEXT is split into words at whitespace (as CoNLL
// data is), each word is scored at its first subword, and a text longer than
// max_seq_len is split into windows on word boundaries and joined back, so
// every word is scored.

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/model/scoring"
	"github.com/taskweave/taskweave/text/align"
	"github.com/taskweave/taskweave/text/wordpiece"
	"github.com/taskweave/taskweave/trainer"
)

func init() {
	register("predict", "print each text's label and its probability from a checkpoint (taskweave or Hugging Face BERT; local or gs://)", setupPredict)
}

// Where predict writes; tests replace them.
var predictStdout, predictStderr io.Writer = os.Stdout, os.Stderr

type predictConfig struct {
	model, task    string
	json, truncVoc bool
	precision      string // fp32 (also "") | bf16
}

func setupPredict(fs *flag.FlagSet) func(ctx context.Context, args []string) error {
	var c predictConfig
	fs.StringVar(&c.model, "model", "", "checkpoint directory: taskweave's, or a Hugging Face BertModel/BertForSequenceClassification/BertForTokenClassification one; local path or gs://bucket/dir")
	fs.StringVar(&c.task, "task", "", "task (head) to predict; optional when the checkpoint has one task. For a Hugging Face checkpoint it names the imported head")
	fs.BoolVar(&c.json, "json", false, "print one JSON object per text instead of tab-separated lines")
	fs.StringVar(&c.precision, "precision", "", "fp32 | bf16: number format of the matrix products (default fp32)")
	fs.BoolVar(&c.truncVoc, "allow-vocab-truncation", false, "accept a vocab.txt longer than the embedding matrix by keeping its first vocab_size entries (warned)")
	return func(ctx context.Context, args []string) error {
		return runPredict(ctx, c, args, predictStdout, predictStderr)
	}
}

// predictText is one text's result; Tokens is set for token tasks, Value
// for regression. Label and Score are the shape a Hugging Face pipeline()
// user reads ({"label", "score"}): the argmax label and its softmax
// probability; Scores gives every label's probability, Logits the raw
// outputs they came from.
type predictText struct {
	Text    string         `json:"text"`
	Task    string         `json:"task"`
	Label   string         `json:"label,omitempty"`
	Score   float32        `json:"score,omitempty"`
	Scores  []predictScore `json:"scores,omitempty"`
	Value   *float32       `json:"value,omitempty"`
	Logits  []float32      `json:"logits,omitempty"`
	Tokens  []predictTok   `json:"tokens,omitempty"`
	Windows int            `json:"windows,omitempty"` // windows a long token text was scored in (0 = one)
}

// predictScore is one label's probability.
type predictScore struct {
	Label string  `json:"label"`
	Score float32 `json:"score"`
}

// predictTok is one word of a token task, scored at its first subword:
// its label, that label's probability and the logits.
type predictTok struct {
	Word   string    `json:"word"`
	Label  string    `json:"label"`
	Score  float32   `json:"score"`
	Logits []float32 `json:"logits"`
}

// predictBatch is the number of texts (or windows) per forward pass.
const predictBatch = 64

// predictor is a loaded checkpoint's head, ready to encode and score text.
type predictor struct {
	m    *model.Model
	head model.HeadSpec
	task scoring.Task
	tok  *wordpiece.Tokenizer
	enc  align.Task
}

func runPredict(ctx context.Context, c predictConfig, texts []string, stdout, stderr io.Writer) error {
	if c.model == "" {
		return fmt.Errorf("--model is required: a checkpoint directory (local or gs://)")
	}
	if len(texts) == 0 {
		return fmt.Errorf("no TEXT given: taskweave predict --model DIR [--task NAME] TEXT...")
	}
	p, err := loadPredictor(ctx, c, stderr)
	if err != nil {
		return err
	}
	results, exs, err := p.encode(texts, stderr)
	if err != nil {
		return err
	}
	var preds []scoring.Prediction
	err = scoring.Score(p.m, p.task, exs, scoring.Options{BatchSize: predictBatch, Logits: true}, func(_ int, pr scoring.Prediction) error {
		preds = append(preds, pr)
		return nil
	})
	if err != nil {
		return err
	}
	if preds, err = scoring.StitchAll(preds); err != nil {
		return err
	}
	for _, pr := range preds {
		i, err := strconv.Atoi(pr.ExampleID)
		if err != nil || i < 0 || i >= len(results) {
			return fmt.Errorf("predict: prediction for unknown text %q", pr.ExampleID)
		}
		p.fill(&results[i], pr)
	}
	return printPredictions(stdout, results, c.json)
}

// loadPredictor loads the checkpoint at c.model and picks its head.
func loadPredictor(ctx context.Context, c predictConfig, stderr io.Writer) (*predictor, error) {
	prec := model.Precision(cmp.Or(c.precision, string(model.FP32)))
	if err := model.CheckPrecision(prec); err != nil {
		return nil, err
	}
	dir, err := trainer.FollowLast(ctx, c.model) // <out>/last on gs:// is a pointer
	if err != nil {
		return nil, err
	}
	m, meta, err := checkpoint.LoadWith(storage.Dir(ctx, dir), checkpoint.Options{
		TaskName: c.task, AllowVocabTruncation: c.truncVoc, Warn: stderr})
	if err != nil {
		return nil, err
	}
	if err := m.SetPrecision(prec); err != nil {
		return nil, err
	}
	head, info, err := pickHead(m, meta, c.task, c.model)
	if err != nil {
		return nil, err
	}
	if len(meta.Vocab) == 0 {
		return nil, fmt.Errorf("%s has no vocab.txt: it can serve as initial weights but cannot tokenize text", c.model)
	}
	tok, err := wordpiece.Load(strings.NewReader(strings.Join(meta.Vocab, "\n")+"\n"), meta.Lowercase)
	if err != nil {
		return nil, fmt.Errorf("%s/vocab.txt: %w", c.model, err)
	}
	maxLen := m.Config().MaxPositionEmbeddings
	if meta.MaxSeqLen > 0 && meta.MaxSeqLen < maxLen {
		maxLen = meta.MaxSeqLen
	}
	enc := align.Task{Name: head.Task, Split: "predict", Type: string(head.Kind), MaxSeqLen: maxLen, LabelIDs: map[string]int32{}}
	for i, l := range info.Labels {
		enc.LabelIDs[l] = int32(i)
	}
	return &predictor{m: m, head: head, task: scoring.Task{Name: head.Task, Kind: head.Kind, Labels: info.Labels}, tok: tok, enc: enc}, nil
}

// encode turns each text into the rows preprocess would make of it (a
// token text into words at whitespace, windows if it is long).
func (p *predictor) encode(texts []string, stderr io.Writer) ([]predictText, []scoring.Example, error) {
	results := make([]predictText, len(texts))
	var exs []scoring.Example
	for i, text := range texts {
		results[i] = predictText{Text: text, Task: p.head.Task}
		rec := corpus.Record{File: "TEXT", Line: i + 1, ID: strconv.Itoa(i), Text: text}
		if p.head.Kind == model.TokenClassification {
			rec.Text, rec.Words = "", strings.Fields(text)
		}
		rows, st, err := align.Align(p.tok, p.enc, rec)
		if err != nil {
			return nil, nil, fmt.Errorf("text %d: %w", i+1, err)
		}
		if st.Truncated > 0 {
			fmt.Fprintf(stderr, "warning: text %d is longer than %d tokens and was truncated\n", i+1, p.enc.MaxSeqLen)
		}
		if st.Windows > 0 {
			results[i].Windows = st.Rows
		}
		for _, r := range rows {
			exs = append(exs, scoring.Example(r))
		}
	}
	return results, exs, nil
}

// fill puts one text's prediction into r: the label, its probability and
// every label's (a softmax over the head's logits), or the value.
func (p *predictor) fill(r *predictText, pr scoring.Prediction) {
	L := p.task.Outputs()
	switch p.head.Kind {
	case model.TokenClassification:
		for w, word := range pr.Words {
			logits := pr.Logits[w*L : (w+1)*L]
			r.Tokens = append(r.Tokens, predictTok{Word: word, Label: pr.PredTags[w], Score: slices.Max(scoring.Softmax(logits)), Logits: logits})
		}
	case model.SequenceRegression:
		v := pr.PredValue
		r.Value = &v
	default:
		r.Logits = pr.Logits
		r.Label = p.task.Labels[pr.Pred]
		probs := scoring.Softmax(pr.Logits)
		r.Score = probs[pr.Pred]
		for k, l := range p.task.Labels {
			r.Scores = append(r.Scores, predictScore{Label: l, Score: probs[k]})
		}
	}
}

// pickHead finds the task's head: the named one, or the only one.
func pickHead(m *model.Model, meta checkpoint.Meta, task, dir string) (model.HeadSpec, checkpoint.TaskInfo, error) {
	heads := m.Heads()
	var names []string
	for _, h := range heads {
		names = append(names, h.Task)
	}
	var head *model.HeadSpec
	for i := range heads {
		if heads[i].Task == task || (task == "" && len(heads) == 1) {
			head = &heads[i]
		}
	}
	switch {
	case len(heads) == 0:
		return model.HeadSpec{}, checkpoint.TaskInfo{}, fmt.Errorf("%s has no task head (a bare encoder): nothing to predict", dir)
	case head == nil && task == "":
		return model.HeadSpec{}, checkpoint.TaskInfo{}, fmt.Errorf("%s has several tasks; choose one with --task (%s)", dir, strings.Join(names, ", "))
	case head == nil:
		return model.HeadSpec{}, checkpoint.TaskInfo{}, fmt.Errorf("%s has no task %q; its tasks: %s", dir, task, strings.Join(names, ", "))
	case head.Kind == model.MaskedLM:
		return model.HeadSpec{}, checkpoint.TaskInfo{}, fmt.Errorf("task %q is a masked-LM head; predict serves classification and regression heads", head.Task)
	}
	info, _ := meta.Task(head.Task)
	if head.Kind != model.SequenceRegression && len(info.Labels) != head.NumLabels {
		return model.HeadSpec{}, checkpoint.TaskInfo{}, fmt.Errorf("%s: task %q has %d labels for %d classes", dir, head.Task, len(info.Labels), head.NumLabels)
	}
	return *head, info, nil
}

func printPredictions(w io.Writer, results []predictText, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, r := range results {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	var sb strings.Builder
	for i, r := range results {
		switch {
		case r.Tokens != nil || r.Label == "" && r.Value == nil:
			if i > 0 {
				sb.WriteString("\n")
			}
			fmt.Fprintf(&sb, "# %s\n", r.Text)
			for _, t := range r.Tokens {
				fmt.Fprintf(&sb, "%s\t%s\t%.4f\n", t.Word, t.Label, t.Score)
			}
		case r.Value != nil:
			fmt.Fprintf(&sb, "%.6g\t%s\n", *r.Value, r.Text)
		default:
			fmt.Fprintf(&sb, "%s\t%.4f\t%s\t%s\n", r.Label, r.Score, formatScores(r.Scores), r.Text)
		}
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// formatScores prints every label's probability, in label order:
// "negative=0.2310 positive=0.7690".
func formatScores(ss []predictScore) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = fmt.Sprintf("%s=%.4f", s.Label, s.Score)
	}
	return strings.Join(parts, " ")
}
