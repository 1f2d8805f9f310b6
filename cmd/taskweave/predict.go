package main

// taskweave predict: load a checkpoint through model/checkpoint (ours or an
// imported Hugging Face one, local or gs:// through io/storage.Dir), encode
// each text exactly as preprocess encodes a record (text/align, with
// the checkpoint's vocabulary, casing and max_seq_len), score through
// model/scoring as training and evaluate do, and print each text's label and
// logits. For token tasks TEXT is split into words at whitespace (as CoNLL
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
	"strconv"
	"strings"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/model/scoring"
	"github.com/taskweave/taskweave/text/align"
	"github.com/taskweave/taskweave/text/wordpiece"
)

func init() {
	register("predict", "print each text's label and logits from a checkpoint (taskweave or Hugging Face BERT; local or gs://)", setupPredict)
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
// for regression.
type predictText struct {
	Text    string       `json:"text"`
	Task    string       `json:"task"`
	Label   string       `json:"label,omitempty"`
	Value   *float32     `json:"value,omitempty"`
	Logits  []float32    `json:"logits,omitempty"`
	Tokens  []predictTok `json:"tokens,omitempty"`
	Windows int          `json:"windows,omitempty"` // windows a long token text was scored in (0 = one)
}

// predictTok is one word of a token task, scored at its first subword.
type predictTok struct {
	Word   string    `json:"word"`
	Label  string    `json:"label"`
	Logits []float32 `json:"logits"`
}

// predictBatch is the number of texts (or windows) per forward pass.
const predictBatch = 64

func runPredict(ctx context.Context, c predictConfig, texts []string, stdout, stderr io.Writer) error {
	if c.model == "" {
		return fmt.Errorf("--model is required: a checkpoint directory (local or gs://)")
	}
	if len(texts) == 0 {
		return fmt.Errorf("no TEXT given: taskweave predict --model DIR [--task NAME] TEXT...")
	}
	prec := model.Precision(cmp.Or(c.precision, string(model.FP32)))
	if err := model.CheckPrecision(prec); err != nil {
		return err
	}
	m, meta, err := checkpoint.LoadWith(storage.Dir(ctx, c.model), checkpoint.Options{
		TaskName: c.task, AllowVocabTruncation: c.truncVoc, Warn: stderr})
	if err != nil {
		return err
	}
	if err := m.SetPrecision(prec); err != nil {
		return err
	}
	head, info, err := pickHead(m, meta, c.task, c.model)
	if err != nil {
		return err
	}
	if len(meta.Vocab) == 0 {
		return fmt.Errorf("%s has no vocab.txt: it can serve as initial weights but cannot tokenize text", c.model)
	}
	tok, err := wordpiece.Load(strings.NewReader(strings.Join(meta.Vocab, "\n")+"\n"), meta.Lowercase)
	if err != nil {
		return fmt.Errorf("%s/vocab.txt: %w", c.model, err)
	}
	maxLen := m.Config().MaxPositionEmbeddings
	if meta.MaxSeqLen > 0 && meta.MaxSeqLen < maxLen {
		maxLen = meta.MaxSeqLen
	}
	task := scoring.Task{Name: head.Task, Kind: head.Kind, Labels: info.Labels}
	enc := align.Task{Name: head.Task, Split: "predict", Type: string(head.Kind), MaxSeqLen: maxLen, LabelIDs: map[string]int32{}}
	for i, l := range info.Labels {
		enc.LabelIDs[l] = int32(i)
	}

	results := make([]predictText, len(texts))
	var exs []scoring.Example
	for i, text := range texts {
		results[i] = predictText{Text: text, Task: head.Task}
		rec := corpus.Record{File: "TEXT", Line: i + 1, ID: strconv.Itoa(i), Text: text}
		if head.Kind == model.TokenClassification {
			rec.Text, rec.Words = "", strings.Fields(text)
		}
		rows, st, err := align.Align(tok, enc, rec)
		if err != nil {
			return fmt.Errorf("text %d: %w", i+1, err)
		}
		if st.Truncated > 0 {
			fmt.Fprintf(stderr, "warning: text %d is longer than %d tokens and was truncated\n", i+1, maxLen)
		}
		if st.Windows > 0 {
			results[i].Windows = st.Rows
		}
		for _, r := range rows {
			exs = append(exs, scoring.Example(r))
		}
	}
	var preds []scoring.Prediction
	err = scoring.Score(m, task, exs, scoring.Options{BatchSize: predictBatch, Logits: true}, func(_ int, p scoring.Prediction) error {
		preds = append(preds, p)
		return nil
	})
	if err != nil {
		return err
	}
	if preds, err = scoring.StitchAll(preds); err != nil {
		return err
	}
	for _, p := range preds {
		i, err := strconv.Atoi(p.ExampleID)
		if err != nil || i < 0 || i >= len(results) {
			return fmt.Errorf("predict: prediction for unknown text %q", p.ExampleID)
		}
		r := &results[i]
		L := task.Outputs()
		switch head.Kind {
		case model.TokenClassification:
			for w, word := range p.Words {
				r.Tokens = append(r.Tokens, predictTok{Word: word, Label: p.PredTags[w], Logits: p.Logits[w*L : (w+1)*L]})
			}
		case model.SequenceRegression:
			v := p.PredValue
			r.Value = &v
		default:
			r.Logits = p.Logits
			r.Label = info.Labels[p.Pred]
		}
	}
	return printPredictions(stdout, results, c.json)
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
				fmt.Fprintf(&sb, "%s\t%s\t%s\n", t.Word, t.Label, formatLogits(t.Logits))
			}
		case r.Value != nil:
			fmt.Fprintf(&sb, "%.6g\t%s\n", *r.Value, r.Text)
		default:
			fmt.Fprintf(&sb, "%s\t%s\t%s\n", r.Label, formatLogits(r.Logits), r.Text)
		}
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

func formatLogits(x []float32) string {
	parts := make([]string, len(x))
	for i, v := range x {
		parts[i] = fmt.Sprintf("%.4f", v)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
