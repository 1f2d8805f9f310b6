// Package runrecord keeps one JSON record per job run: what ran (spec hash, input
// fingerprints), how long each stage took, the metrics, and the outcome with
// its reason, so `taskweave runs` can answer "what happened last night".
package runrecord

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/taskweave/taskweave/io/storage"
)

// Stage is one stage's timing and outcome.
type Stage struct {
	Name     string  `json:"name"`
	Seconds  float64 `json:"seconds"`
	Skipped  bool    `json:"skipped,omitempty"`
	Note     string  `json:"note,omitempty"`
	Error    string  `json:"error,omitempty"`
	Location string  `json:"location,omitempty"` // output the stage wrote
}

// Record is one run.
type Record struct {
	ID          string             `json:"id"`
	Job         string             `json:"job"`
	SpecHash    string             `json:"spec_hash"`
	Inputs      string             `json:"input_fingerprint,omitempty"`
	Host        string             `json:"host"`
	Started     time.Time          `json:"started"`
	Finished    time.Time          `json:"finished,omitempty"`
	Stages      []Stage            `json:"stages"`
	Metrics     map[string]float64 `json:"metrics,omitempty"`
	Version     string             `json:"version,omitempty"`
	Outcome     string             `json:"outcome"` // one of the outcomes below
	Reason      string             `json:"reason,omitempty"`
	Decision    string             `json:"decision,omitempty"` // the promotion gate's code (registry.Code*)
	Report      string             `json:"report,omitempty"`
	Interrupted bool               `json:"interrupted,omitempty"`
}

// Outcomes of a run. Crashed is never written: it is how a record left
// "running" by a process that died is shown once its lease has expired.
const (
	Running     = "running"
	Promoted    = "promoted"
	NotPromoted = "not-promoted"
	Failed      = "failed"
	Crashed     = "crashed"
)

// NewID is sortable by start time and unique per process.
func NewID(t time.Time) string {
	return fmt.Sprintf("%s-%d", t.UTC().Format("20060102T150405.000Z"), os.Getpid())
}

// Save writes the record to dir/<id>.json atomically.
func Save(ctx context.Context, dir string, r *Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return storage.WriteFile(ctx, storage.Join(dir, r.ID+".json"), b)
}

// List reads every record in dir, newest first.
func List(ctx context.Context, dir string) ([]Record, error) {
	files, err := storage.List(ctx, storage.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, f := range files {
		b, err := storage.ReadFile(ctx, f)
		if err != nil {
			return nil, err
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("run record %s is corrupt: %v", f, err)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}
