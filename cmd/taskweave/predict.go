package main

// taskweave predict: load a checkpoint through model/checkpoint (ours or an
// imported Hugging Face one, local or gs:// through io/storage.Dir),
// tokenize with transforms/wordpiece using the checkpoint's casing, and
// print each text's label and logits. For token tasks TEXT is split into
// words at whitespace (as CoNLL data is), each word is scored at its first
// subword, and words that do not fit in max_seq_len are reported, not
// silently dropped.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/transforms/wordpiece"
)

func init() {
	register("predict", "print each text's label and logits from a checkpoint (taskweave or Hugging Face BERT; local or gs://)", setupPredict)
}

// Where predict writes; tests replace them.
var predictStdout, predictStderr io.Writer = os.Stdout, os.Stderr

type predictConfig struct {
	model, task    string
	json, truncVoc bool
}

func setupPredict(fs *flag.FlagSet) func(ctx context.Context, args []string) error {
	var c predictConfig
	fs.StringVar(&c.model, "model", "", "checkpoint directory: taskweave's, or a Hugging Face BertModel/BertForSequenceClassification/BertForTokenClassification one; local path or gs://bucket/dir")
	fs.StringVar(&c.task, "task", "", "task (head) to predict; optional when the checkpoint has one task. For a Hugging Face checkpoint it names the imported head")
	fs.BoolVar(&c.json, "json", false, "print one JSON object per text instead of tab-separated lines")
	fs.BoolVar(&c.truncVoc, "allow-vocab-truncation", false, "accept a vocab.txt longer than the embedding matrix by keeping its first vocab_size entries (warned)")
	return func(ctx context.Context, args []string) error {
		return runPredict(ctx, c, args, predictStdout, predictStderr)
	}
}

// predictText is one text's result; Tokens is set for token tasks, Value
// for regression.
type predictText struct {
	Text      string       `json:"text"`
	Task      string       `json:"task"`
	Label     string       `json:"label,omitempty"`
	Value     *float32     `json:"value,omitempty"`
	Logits    []float32    `json:"logits,omitempty"`
	Tokens    []predictTok `json:"tokens,omitempty"`
	Truncated int          `json:"truncated_words,omitempty"`
}

// predictTok is one word of a token task, scored at its first subword.
type predictTok struct {
	Word   string    `json:"word"`
	Label  string    `json:"label"`
	Logits []float32 `json:"logits"`
}

func runPredict(ctx context.Context, c predictConfig, texts []string, stdout, stderr io.Writer) error {
	if c.model == "" {
		return fmt.Errorf("--model is required: a checkpoint directory (local or gs://)")
	}
	if len(texts) == 0 {
		return fmt.Errorf("no TEXT given: taskweave predict --model DIR [--task NAME] TEXT...")
	}
	m, meta, err := checkpoint.LoadWith(storage.Dir(ctx, c.model), checkpoint.Options{
		TaskName: c.task, AllowVocabTruncation: c.truncVoc, Warn: stderr})
	if err != nil {
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
	token := head.Kind == model.TokenClassification

	// Encode every text; token tasks keep the position of each word's first subword.
	var rows [][]int32
	var firsts [][]int // per text, per word: position or -1
	var words [][]string
	results := make([]predictText, len(texts))
	for i, text := range texts {
		results[i] = predictText{Text: text, Task: head.Task}
		ids := []int32{tok.CLS()}
		if token {
			ws := strings.Fields(text)
			first := make([]int, len(ws))
			for w, pieces := range tok.EncodeWords(ws) {
				first[w] = -1
				if len(pieces) == 0 || len(ids)+len(pieces)+1 > maxLen {
					if len(pieces) > 0 {
						results[i].Truncated++
					}
					continue
				}
				first[w] = len(ids)
				ids = append(ids, pieces...)
			}
			if n := results[i].Truncated; n > 0 {
				fmt.Fprintf(stderr, "warning: text %d: %d words do not fit in %d tokens and are not scored\n", i+1, n, maxLen)
			}
			words, firsts = append(words, ws), append(firsts, first)
		} else {
			body := tok.Encode(text)
			if len(body)+2 > maxLen {
				fmt.Fprintf(stderr, "warning: text %d: %d tokens, truncated to %d\n", i+1, len(body)+2, maxLen)
				body = body[:maxLen-2]
			}
			ids = append(ids, body...)
		}
		rows = append(rows, append(ids, tok.SEP()))
	}
	T := 0
	for _, r := range rows {
		T = max(T, len(r))
	}
	b := &model.Batch{Task: head.Task, B: len(rows), T: T,
		InputIDs: make([]int32, len(rows)*T), TokenTypeIDs: make([]int32, len(rows)*T), Mask: make([]int32, len(rows)*T)}
	for i, r := range rows {
		copy(b.InputIDs[i*T:], r)
		for j := range r {
			b.Mask[i*T+j] = 1
		}
		for j := len(r); j < T; j++ {
			b.InputIDs[i*T+j] = tok.PAD()
		}
	}
	logits, err := m.Predict(b)
	if err != nil {
		return err
	}
	L := head.NumLabels
	for i := range results {
		r := &results[i]
		switch {
		case token:
			for w, word := range words[i] {
				pt := predictTok{Word: word}
				if p := firsts[i][w]; p >= 0 {
					pt.Logits = logits[(i*T+p)*L : (i*T+p+1)*L]
					pt.Label = info.Labels[argmax(pt.Logits)]
				}
				r.Tokens = append(r.Tokens, pt)
			}
		case head.Kind == model.SequenceRegression:
			v := logits[i]
			r.Value = &v
		default:
			r.Logits = logits[i*L : (i+1)*L]
			r.Label = info.Labels[argmax(r.Logits)]
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

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
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
				if t.Logits == nil {
					fmt.Fprintf(&sb, "%s\t-\t(not scored)\n", t.Word)
					continue
				}
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
