// Package splitstats adds up per-example counts into one line per task and
// split (examples, tokens, truncated, windows, rejected, loose IOB2 tags) and hands the total
// to the launcher by writing it as a small JSON file: a portable runner's
// workers have no other way to return a value to the process that started
// the pipeline.
package splitstats

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/transforms/scan"
)

func init() {
	register.Combiner3[Summary, Stats, Summary](&SumFn{})
	register.DoFn4x1[context.Context, []byte, Summary, scan.Result, error](&WriteFn{})
	beam.RegisterType(reflect.TypeFor[Stats]())
	beam.RegisterType(reflect.TypeFor[Summary]())
}

// Stats counts one task and split. Rows = Examples + Windows: Windows counts
// the extra rows made by splitting token sentences longer than the limit.
type Stats struct {
	Task, Split string
	Examples    int64 // source records encoded
	Rows        int64 // shard rows written
	Tokens      int64 // WordPiece ids over all rows, [CLS] and [SEP] included
	Truncated   int64 // sentence examples cut to max_seq_len
	Windows     int64 // extra rows from windowing long token sentences
	Rejected    int64 // records sent to rejected/<task>.jsonl
	LooseIOB2   int64 // I-X tags starting a chunk in encoded iob2 records
}

// Add adds o's counts to s.
func (s *Stats) Add(o Stats) {
	s.Examples += o.Examples
	s.Rows += o.Rows
	s.Tokens += o.Tokens
	s.Truncated += o.Truncated
	s.Windows += o.Windows
	s.Rejected += o.Rejected
	s.LooseIOB2 += o.LooseIOB2
}

// Summary is the per-task, per-split total, sorted by task then split, plus
// the scan's label lists and record counts.
type Summary struct {
	Splits []Stats
	Scan   scan.Result
}

// Find returns the stats of one task and split.
func (s Summary) Find(task, split string) (Stats, bool) {
	for _, st := range s.Splits {
		if st.Task == task && st.Split == split {
			return st, true
		}
	}
	return Stats{}, false
}

func cmpKey(a, b Stats) int {
	if c := strings.Compare(a.Task, b.Task); c != 0 {
		return c
	}
	return strings.Compare(a.Split, b.Split)
}

// SumFn adds Stats up per task and split.
type SumFn struct{}

// CreateAccumulator starts empty.
func (SumFn) CreateAccumulator() Summary { return Summary{} }

// AddInput adds one count, keeping Splits sorted; the empty Stats (Write's
// seed) adds nothing.
func (SumFn) AddInput(a Summary, in Stats) Summary {
	if in.Task == "" {
		return a
	}
	i, found := slices.BinarySearchFunc(a.Splits, in, cmpKey)
	if !found {
		a.Splits = slices.Insert(a.Splits, i, Stats{Task: in.Task, Split: in.Split})
	}
	a.Splits[i].Add(in)
	return a
}

// MergeAccumulators adds b into a.
func (f SumFn) MergeAccumulators(a, b Summary) Summary {
	for _, st := range b.Splits {
		a = f.AddInput(a, st)
	}
	return a
}

// ExtractOutput returns the totals.
func (SumFn) ExtractOutput(a Summary) Summary { return a }

// WriteFn writes the summary, with the scan's result, to Path as JSON.
// Its main input is a single impulse element; summary and scan arrive as
// side inputs so the write waits for both.
type WriteFn struct {
	Path string
}

// ProcessElement writes the file.
func (f *WriteFn) ProcessElement(ctx context.Context, _ []byte, sum Summary, sc scan.Result) error {
	sum.Scan = sc
	data, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	if err := storage.WriteFile(ctx, f.Path, data); err != nil {
		return fmt.Errorf("splitstats: %w", err)
	}
	return nil
}

// Write sums stats (a PCollection<Stats>) and writes the total with the
// scan's result (a singleton PCollection<scan.Result>) to path.
func Write(s beam.Scope, stats, sc beam.PCollection, path string) {
	s = s.Scope("WriteSummary")
	// The seed makes the global Combine yield a value even for no input
	// (Beam's gives none then), so the summary is always written.
	sum := beam.Combine(s, &SumFn{}, beam.Flatten(s, beam.Create(s, Stats{}), stats))
	beam.ParDo0(s, &WriteFn{Path: path}, beam.Impulse(s),
		beam.SideInput{Input: sum}, beam.SideInput{Input: sc})
}

// Read reads a summary written by Write.
func Read(ctx context.Context, path string) (Summary, error) {
	var sum Summary
	data, err := storage.ReadFile(ctx, path)
	if err != nil {
		return sum, err
	}
	if err := json.Unmarshal(data, &sum); err != nil {
		return sum, fmt.Errorf("%s: %w", path, err)
	}
	return sum, nil
}
