package trainer

import (
	"context"
	"encoding/json"
	"fmt"
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

// openMetricsLog starts out/metrics.jsonl afresh, or continues it on resume.
func openMetricsLog(ctx context.Context, out string, resume bool) (*metricsLog, error) {
	// The log outlives a cancelled run: its "end" event is written after
	// Ctrl-C, like the final save.
	ctx = context.WithoutCancel(ctx)
	p := storage.Join(out, "metrics.jsonl")
	if !resume {
		if err := storage.WriteFile(ctx, p, nil); err != nil {
			return nil, err
		}
	}
	a, err := storage.OpenAppend(ctx, p, metricsFlushEvery)
	if err != nil {
		return nil, err
	}
	return &metricsLog{path: p, a: a}, nil
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
