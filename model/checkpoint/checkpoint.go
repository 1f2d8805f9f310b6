package checkpoint

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/taskweave/taskweave/model"
)

// FormatVersion is the version of the checkpoint directory layout written
// by Save into config.json's "taskweave" section.
const FormatVersion = 1

// File names inside a checkpoint directory.
const (
	ConfigFile          = "config.json"
	WeightsFile         = "model.safetensors"
	VocabFile           = "vocab.txt"
	TasksFile           = "tasks.json"
	TokenizerConfigFile = "tokenizer_config.json"
	pytorchFile         = "pytorch_model.bin"
)

// TaskInfo describes one task of a checkpoint (tasks.json). Type is one of
// model's head kinds; Labels are the class names in id order (empty for
// regression and masked LM); Layer is the encoder layer the head reads
// (0 = top); Auxiliary tasks are trained but left out of model selection
// and promotion. A masked LM records what evaluate needs to mask its text
// as training did: Source, the tasks whose text it read (empty: its own
// shards), and WholeWord, whether it masked whole words. Checkpoints
// written before these fields existed load with them empty.
type TaskInfo struct {
	Name      string   `json:"name"`
	Type      string   `json:"type"`
	Labels    []string `json:"labels,omitempty"`
	TagScheme string   `json:"tag_scheme,omitempty"`
	Layer     int      `json:"layer,omitempty"`
	Auxiliary bool     `json:"auxiliary,omitempty"`
	Source    []string `json:"source,omitempty"`
	WholeWord bool     `json:"whole_word,omitempty"`
}

// Meta is everything a checkpoint holds besides the weights. Extra is kept
// in config.json's taskweave section (the trainer puts "sharing" and
// "strategy" there) and must survive a JSON round trip.
type Meta struct {
	Vocab     []string
	Lowercase bool
	MaxSeqLen int
	Tasks     []TaskInfo
	Extra     map[string]any
}

// Task returns the TaskInfo of the named task.
func (m Meta) Task(name string) (TaskInfo, bool) {
	for _, t := range m.Tasks {
		if t.Name == name {
			return t, true
		}
	}
	return TaskInfo{}, false
}

// section is config.json's "taskweave" object.
type section struct {
	FormatVersion int               `json:"format_version"`
	Tasks         []string          `json:"tasks"`
	Heads         []headJSON        `json:"heads"`
	Lowercase     bool              `json:"lowercase"`
	MaxSeqLen     int               `json:"max_seq_len"`
	Files         map[string]string `json:"files"` // name -> "sha256:…", checked by Load
	Extra         map[string]any    `json:"extra,omitempty"`
	Sharing       *model.Sharing    `json:"sharing,omitempty"` // soft sharing; absent = none
}

type headJSON struct {
	Task      string `json:"task"`
	Kind      string `json:"kind"`
	NumLabels int    `json:"num_labels"`
	Layer     int    `json:"layer"`
	// Sharing is the task's soft sharing; absent = hard sharing.
	Sharing *model.TaskSharing `json:"sharing,omitempty"`
}

// configJSON is config.json: Hugging Face's BERT keys (so that transformers
// can load the encoder as a BertModel) plus our section.
type configJSON struct {
	model.Config
	ModelType     string   `json:"model_type"`
	Architectures []string `json:"architectures"`
	PadTokenID    int      `json:"pad_token_id"`
	Taskweave     *section `json:"taskweave,omitempty"`
}

type tasksJSON struct {
	FormatVersion int        `json:"format_version"`
	Tasks         []TaskInfo `json:"tasks"`
}

// aborter is implemented by writers that can drop what they wrote
// (LocalDir's, and io/storage's) instead of publishing it on Close.
type aborter interface{ Abort() }
type errAborter interface{ Abort() error }

// writeFile writes one file through fs.Create and returns its sha256. On
// error the writer is aborted where possible, never closed, so no partial
// file becomes visible.
func writeFile(fs FS, name string, fill func(w io.Writer) error) (string, error) {
	w, err := fs.Create(name)
	if err != nil {
		return "", fmt.Errorf("checkpoint: creating %s: %w", name, err)
	}
	h := sha256.New()
	if err := fill(io.MultiWriter(w, h)); err != nil {
		switch a := w.(type) {
		case aborter:
			a.Abort()
		case errAborter:
			a.Abort()
		}
		return "", fmt.Errorf("checkpoint: writing %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("checkpoint: finishing %s: %w", name, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// Save writes m and meta as a checkpoint directory: model.safetensors,
// vocab.txt, tasks.json and tokenizer_config.json first, config.json last.
// Each file is atomic on its own (fs.Create); config.json records the
// sha256 of the others, so a directory where a Save was interrupted, or
// whose files come from two different Saves, is refused by Load.
func Save(fs FS, m *model.Model, meta Meta) error {
	cfg := m.Config()
	if len(meta.Vocab) != cfg.VocabSize {
		return fmt.Errorf("checkpoint: Meta.Vocab has %d entries but the model's vocab_size is %d; save the vocabulary the model was built with", len(meta.Vocab), cfg.VocabSize)
	}
	for i, tok := range meta.Vocab {
		if tok == "" || strings.ContainsAny(tok, "\r\n") {
			return fmt.Errorf("checkpoint: vocabulary entry %d (%q) is empty or contains a line break; vocab.txt holds one token per line", i, tok)
		}
	}
	heads := m.Heads()
	tasks, err := taskInfos(heads, meta.Tasks)
	if err != nil {
		return err
	}
	files := map[string]string{}
	var tensors []*Tensor
	for _, p := range m.Params() {
		tensors = append(tensors, &Tensor{Name: p.Name, DType: "F32", Shape: p.Shape, Data: p.W})
	}
	if files[WeightsFile], err = writeFile(fs, WeightsFile, func(w io.Writer) error {
		return WriteSafetensors(w, tensors, map[string]string{"format": "pt", "writer": "taskweave"})
	}); err != nil {
		return err
	}
	if files[VocabFile], err = writeFile(fs, VocabFile, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		for _, tok := range meta.Vocab {
			bw.WriteString(tok)
			bw.WriteByte('\n')
		}
		return bw.Flush()
	}); err != nil {
		return err
	}
	if files[TasksFile], err = writeFile(fs, TasksFile, jsonFill(tasksJSON{FormatVersion: FormatVersion, Tasks: tasks})); err != nil {
		return err
	}
	// For Hugging Face's BertTokenizer, so the directory also works there.
	tokCfg := map[string]any{"do_lower_case": meta.Lowercase, "tokenizer_class": "BertTokenizer"}
	if meta.MaxSeqLen > 0 {
		tokCfg["model_max_length"] = meta.MaxSeqLen
	}
	if files[TokenizerConfigFile], err = writeFile(fs, TokenizerConfigFile, jsonFill(tokCfg)); err != nil {
		return err
	}
	sec := &section{FormatVersion: FormatVersion, Lowercase: meta.Lowercase, MaxSeqLen: meta.MaxSeqLen, Files: files, Extra: meta.Extra}
	if sh := m.Sharing(); !reflect.ValueOf(sh).IsZero() {
		sec.Sharing = &sh
	}
	for _, h := range heads {
		sec.Tasks = append(sec.Tasks, h.Task)
		hj := headJSON{Task: h.Task, Kind: string(h.Kind), NumLabels: h.NumLabels, Layer: h.Layer}
		if !reflect.ValueOf(h.Sharing).IsZero() {
			hj.Sharing = &h.Sharing
		}
		sec.Heads = append(sec.Heads, hj)
	}
	c := configJSON{Config: cfg, ModelType: "bert", Architectures: []string{"BertModel"}, Taskweave: sec}
	_, err = writeFile(fs, ConfigFile, jsonFill(c))
	return err
}

func jsonFill(v any) func(io.Writer) error {
	return func(w io.Writer) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
}

// taskInfos pairs every head with its TaskInfo (filling Type and Layer from
// the head) and refuses infos without a head or with a wrong label count.
func taskInfos(heads []model.HeadSpec, infos []TaskInfo) ([]TaskInfo, error) {
	byName := map[string]TaskInfo{}
	for _, t := range infos {
		if _, dup := byName[t.Name]; dup {
			return nil, fmt.Errorf("checkpoint: Meta.Tasks lists task %q twice", t.Name)
		}
		byName[t.Name] = t
	}
	out := make([]TaskInfo, 0, len(heads))
	for _, h := range heads {
		t, ok := byName[h.Task]
		if !ok {
			t = TaskInfo{Name: h.Task}
		}
		delete(byName, h.Task)
		if t.Type == "" {
			t.Type = string(h.Kind)
		}
		if t.Type != string(h.Kind) {
			return nil, fmt.Errorf("checkpoint: task %q has type %q in Meta.Tasks but its head is %q", h.Task, t.Type, h.Kind)
		}
		if t.Layer == 0 {
			t.Layer = h.Layer
		}
		if (h.Kind == model.SequenceClassification || h.Kind == model.TokenClassification) && len(t.Labels) != h.NumLabels {
			return nil, fmt.Errorf("checkpoint: task %q has %d labels in Meta.Tasks but its head predicts %d classes", h.Task, len(t.Labels), h.NumLabels)
		}
		out = append(out, t)
	}
	for name := range byName {
		return nil, fmt.Errorf("checkpoint: Meta.Tasks has task %q but the model has no head for it", name)
	}
	return out, nil
}

// Options adjust Load.
type Options struct {
	// TaskName names the task of an imported Hugging Face classifier head.
	// Default: the directory's base name when fs tells its path (LocalDir
	// and io/storage.DirFS do), else "classifier". Ignored for taskweave checkpoints.
	TaskName string
	// AllowVocabTruncation accepts a vocab.txt with MORE entries than the
	// embedding matrix has rows by keeping only its first vocab_size entries
	// (tokens past it then map to [UNK]), with a warning. A vocab.txt with
	// fewer entries is always refused.
	AllowVocabTruncation bool
	// IgnoreTensors lists tensor names (after the "bert." prefix is removed)
	// or prefixes ending in "." to skip when importing, e.g. "cls." for the
	// pre-training heads of a BertForPreTraining checkpoint. Any other
	// tensor the model has no place for is an error.
	IgnoreTensors []string
	// Warn receives warnings (vocabulary truncation, missing pooler). Nil
	// means os.Stderr.
	Warn io.Writer
}

// Load reads a checkpoint directory: taskweave's own (config.json with a
// taskweave section), or a Hugging Face BERT one (see LoadWith).
func Load(fs FS) (*model.Model, Meta, error) { return LoadWith(fs, Options{}) }

// LoadWith is Load with options.
func LoadWith(fs FS, opt Options) (*model.Model, Meta, error) {
	where := dirName(fs)
	raw, err := readAll(fs, ConfigFile)
	if err != nil {
		if isNotExist(err) {
			return nil, Meta{}, fmt.Errorf("checkpoint %s: no %s: not a checkpoint directory, or a Save that did not finish (config.json is written last)", where, ConfigFile)
		}
		return nil, Meta{}, fmt.Errorf("checkpoint %s: %w", where, err)
	}
	var probe struct {
		Taskweave json.RawMessage `json:"taskweave"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, Meta{}, fmt.Errorf("checkpoint %s: %s is not valid JSON: %w", where, ConfigFile, err)
	}
	if probe.Taskweave == nil {
		return importHF(fs, where, raw, opt)
	}
	return loadOwn(fs, where, raw, opt)
}

// ownLoad is a taskweave checkpoint being loaded: where it is and what
// its config.json records.
type ownLoad struct {
	fs    FS
	where string
	c     configJSON
}

// loadOwn loads a taskweave checkpoint: config.json, then the weights (the
// model), then vocab.txt and tasks.json (the metadata), every file checked
// against the sha256 config.json records for it.
func loadOwn(fs FS, where string, raw []byte, opt Options) (*model.Model, Meta, error) {
	l := &ownLoad{fs: fs, where: where}
	if err := json.Unmarshal(raw, &l.c); err != nil {
		return nil, Meta{}, fmt.Errorf("checkpoint %s: %s: %w", where, ConfigFile, err)
	}
	if v := l.c.Taskweave.FormatVersion; v != FormatVersion {
		return nil, Meta{}, fmt.Errorf("checkpoint %s: %s has taskweave format_version %d; this build reads version %d", where, ConfigFile, v, FormatVersion)
	}
	m, err := l.model()
	if err != nil {
		return nil, Meta{}, err
	}
	meta, err := l.meta(m, opt)
	if err != nil {
		return nil, Meta{}, err
	}
	return m, meta, nil
}

// check compares the sha256 of a file as it was read with config.json's
// record of it.
func (l *ownLoad) check(name string, h hash.Hash) error {
	want, ok := l.c.Taskweave.Files[name]
	if !ok {
		return fmt.Errorf("checkpoint %s: %s does not record %s's sha256", l.where, ConfigFile, name)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("checkpoint %s: %s has %s but %s recorded %s: the directory mixes files of different saves (an interrupted Save?); save it again", l.where, name, got, ConfigFile, want)
	}
	return nil
}

// specs are the heads and sharing config.json declares.
func (l *ownLoad) specs() ([]model.HeadSpec, model.Sharing) {
	sec := l.c.Taskweave
	var heads []model.HeadSpec
	for _, h := range sec.Heads {
		hs := model.HeadSpec{Task: h.Task, Kind: model.HeadKind(h.Kind), NumLabels: h.NumLabels, Layer: h.Layer}
		if h.Sharing != nil {
			hs.Sharing = *h.Sharing
		}
		heads = append(heads, hs)
	}
	var sharing model.Sharing
	if sec.Sharing != nil {
		sharing = *sec.Sharing
	}
	return heads, sharing
}

// model reads the weights, then builds the model and assigns them. The
// weights are read first so that config.json's sizes can be checked
// against them before model.New allocates.
func (l *ownLoad) model() (*model.Model, error) {
	heads, sharing := l.specs()
	h := sha256.New()
	r, err := l.fs.Open(WeightsFile)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", l.where, err)
	}
	file := l.where + "/" + WeightsFile
	tensors, _, err := ReadSafetensors(io.TeeReader(r, h), file)
	r.Close()
	if err != nil {
		return nil, err
	}
	if err := l.check(WeightsFile, h); err != nil {
		return nil, err
	}
	if err := checkSizes(l.c.Config, sharing, tensors, l.where, file); err != nil {
		return nil, err
	}
	m, err := model.NewWith(l.c.Config, heads, sharing, 0)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %s: %w", l.where, ConfigFile, err)
	}
	named := map[string]*Tensor{}
	for _, t := range tensors {
		named[t.Name] = t
	}
	return m, assign(m, named, file, nil, l.c.Config)
}

// meta reads vocab.txt and tasks.json, checking the tasks against m's heads.
func (l *ownLoad) meta(m *model.Model, opt Options) (Meta, error) {
	sec := l.c.Taskweave
	meta := Meta{Lowercase: sec.Lowercase, MaxSeqLen: sec.MaxSeqLen, Extra: sec.Extra}
	b, err := l.readChecked(VocabFile)
	if err != nil {
		return Meta{}, err
	}
	if meta.Vocab, err = vocabFor(b, l.c.VocabSize, l.where, opt); err != nil {
		return Meta{}, err
	}
	if b, err = l.readChecked(TasksFile); err != nil {
		return Meta{}, err
	}
	var tj tasksJSON
	if err := json.Unmarshal(b, &tj); err != nil {
		return Meta{}, fmt.Errorf("checkpoint %s: %s: %w", l.where, TasksFile, err)
	}
	if meta.Tasks, err = taskInfos(m.Heads(), tj.Tasks); err != nil {
		return Meta{}, fmt.Errorf("checkpoint %s: %s disagrees with %s: %w", l.where, TasksFile, ConfigFile, err)
	}
	return meta, nil
}

// readChecked reads a small file of the checkpoint and checks its sha256.
func (l *ownLoad) readChecked(name string) ([]byte, error) {
	b, err := readAll(l.fs, name)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", l.where, err)
	}
	return b, l.check(name, hashOf(b))
}

func hashOf(b []byte) hash.Hash {
	h := sha256.New()
	h.Write(b)
	return h
}

// vocabFor parses vocab.txt (one token per line, as BertTokenizer reads it)
// and checks it against the embedding matrix.
func vocabFor(b []byte, vocabSize int, where string, opt Options) ([]string, error) {
	text := strings.TrimSuffix(string(b), "\n")
	var vocab []string
	if text != "" {
		vocab = strings.Split(text, "\n")
	}
	for i := range vocab {
		vocab[i] = strings.TrimSuffix(vocab[i], "\r")
	}
	n := len(vocab)
	switch {
	case n == vocabSize:
		return vocab, nil
	case n > vocabSize && opt.AllowVocabTruncation:
		fmt.Fprintf(warnTo(opt), "WARNING: checkpoint %s: vocab.txt has %d entries but vocab_size is %d: keeping only the first %d; the %d tokens after them (%s…) become [UNK]\n",
			where, n, vocabSize, vocabSize, n-vocabSize, vocab[vocabSize])
		return vocab[:vocabSize], nil
	case n > vocabSize:
		return nil, fmt.Errorf("checkpoint %s: vocab.txt has %d entries but config.json vocab_size is %d (rows of embeddings.word_embeddings.weight): ids %d..%d would index past the embedding matrix. Fix: use the vocab.txt the model was trained with, or accept keeping only its first %d entries with --allow-vocab-truncation (predict, train) or model.allow_vocab_truncation: true (job spec)",
			where, n, vocabSize, vocabSize, n-1, vocabSize)
	default:
		return nil, fmt.Errorf("checkpoint %s: vocab.txt has %d entries but config.json vocab_size is %d (rows of embeddings.word_embeddings.weight): this vocab.txt does not belong to these weights. Fix: use the vocab.txt the model was trained with", where, n, vocabSize)
	}
}

func warnTo(opt Options) io.Writer {
	if opt.Warn != nil {
		return opt.Warn
	}
	return os.Stderr
}

func readAll(fs FS, name string) ([]byte, error) {
	r, err := fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }

// dirName is how messages name the directory: its path when fs tells it
// (LocalDir through String, io/storage.DirFS through Base).
func dirName(fs FS) string {
	switch d := fs.(type) {
	case interface{ Base() string }:
		return d.Base()
	case fmt.Stringer:
		return d.String()
	}
	return fmt.Sprintf("%T", fs)
}
