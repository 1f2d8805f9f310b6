package trainer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/taskweave/taskweave/io/storage"
)

// metricsFlushEvery bounds what a crash can take from a gs:// metrics log
// (locally every line reaches the file at once).
const metricsFlushEvery = 30 * time.Second

// metricsLog is metrics.jsonl: one JSON object per event (start, train,
// eval, end). Every write returns its error: a log line that cannot be
// encoded or stored fails the run instead of vanishing.
type metricsLog struct {
	path string
	a    *storage.Appender
}

// openMetricsLog starts out/metrics.jsonl afresh or, on resume, continues
// it from the resumed step: events a crashed run logged after its last save
// are dropped, so the log never repeats a step.
func openMetricsLog(ctx context.Context, out string, resume bool, step int) (*metricsLog, error) {
	// The log outlives a cancelled run: its "end" event is written after
	// Ctrl-C, like the final save.
	ctx = context.WithoutCancel(ctx)
	p := storage.Join(out, "metrics.jsonl")
	var keep []byte
	if resume {
		old, err := storage.ReadFile(ctx, p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		keep = upToStep(old, step)
	}
	if err := storage.WriteFile(ctx, p, keep); err != nil {
		return nil, err
	}
	a, err := storage.OpenAppend(ctx, p, metricsFlushEvery)
	if err != nil {
		return nil, err
	}
	return &metricsLog{path: p, a: a}, nil
}

// upToStep keeps the lines of a metrics log whose event belongs to step or
// earlier ("step", or an end event's summary.steps); a torn last line goes.
func upToStep(log []byte, step int) []byte {
	var out []byte
	for line := range bytes.Lines(log) {
		var ev struct {
			Step    *int `json:"step"`
			Summary *struct {
				Steps int `json:"steps"`
			} `json:"summary"`
		}
		if json.Unmarshal(line, &ev) != nil || !bytes.HasSuffix(line, []byte("\n")) {
			continue
		}
		at := -1
		switch {
		case ev.Step != nil:
			at = *ev.Step
		case ev.Summary != nil:
			at = ev.Summary.Steps
		}
		if at >= 0 && at <= step {
			out = append(out, line...)
		}
	}
	return out
}

// write appends v as one JSON line.
func (l *metricsLog) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", l.path, err)
	}
	_, err = l.a.Write(append(b, '\n'))
	return err
}

// flush makes every line written so far durable (at checkpoints, so a
// resumed run finds the log as complete as its state).
func (l *metricsLog) flush() error { return l.a.Flush() }

func (l *metricsLog) close() error { return l.a.Close() }
