// Package duckcheck reads shards back with DuckDB (tools/parquetcheck, a Node
// script on @duckdb/node-api), an independent Parquet implementation, so tests
// can prove that taskweave's files open outside parquet-go.
package duckcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/taskweave/taskweave/internal/testcorpora"
)

// Summary is what count.mjs reports for a set of shards.
type Summary struct {
	Rows               int64  `json:"rows"`
	DistinctExampleIDs int64  `json:"distinct_example_ids"`
	InputIDsLen        int64  `json:"input_ids_len"`
	InputIDsSum        int64  `json:"input_ids_sum"`
	TokenTypeIDsLen    int64  `json:"token_type_ids_len"`
	TokenLabelsLen     int64  `json:"token_labels_len"`
	TokenLabelsSum     int64  `json:"token_labels_sum"`
	WordIDsLen         int64  `json:"word_ids_len"`
	WordsLen           int64  `json:"words_len"`
	LabelSum           int64  `json:"label_sum"`
	TextChars          int64  `json:"text_chars"` // Unicode code points
	MinExampleID       string `json:"min_example_id"`
	MaxExampleID       string `json:"max_example_id"`
}

// FileSummary is Summary for one file.
type FileSummary struct {
	File string `json:"file"`
	Summary
}

// Dir returns tools/parquetcheck, found by walking up from the working
// directory to the module root.
func Dir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "tools", "parquetcheck"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("duckcheck: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Available reports why DuckDB cannot run here, or nil.
func Available() error {
	dir, err := Dir()
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("node"); err != nil {
		return errors.New("node is not installed: run scripts/setup.sh (apt-get install nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@duckdb", "node-api")); err != nil {
		return fmt.Errorf("DuckDB's Node API is not installed: run `(cd %s && npm install)` or scripts/setup.sh", dir)
	}
	return nil
}

// Require skips the test when DuckDB is unavailable, or fails it when the CI
// environment variable is set (CI must run the independent check).
func Require(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		testcorpora.Missing(t, "the independent Parquet reader is missing: %v", err)
	}
}

// Run runs count.mjs with args (file paths relative to tools/parquetcheck)
// and returns its standard output.
func Run(args ...string) ([]byte, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", append([]string{filepath.Join(dir, "count.mjs")}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("node count.mjs %q: %v: %s", args, err, stderr.String())
	}
	return out, nil
}

// absAll makes paths absolute: node runs in tools/parquetcheck.
func absAll(files []string) []string {
	out := make([]string, len(files))
	for i, f := range files {
		if a, err := filepath.Abs(f); err == nil {
			f = a
		}
		out[i] = f
	}
	return out
}

// Summarize reads files (paths or DuckDB globs) with DuckDB.
func Summarize(files ...string) (perFile []FileSummary, total Summary, err error) {
	out, err := Run(absAll(files)...)
	if err != nil {
		return nil, Summary{}, err
	}
	var res struct {
		Files []FileSummary `json:"files"`
		Total Summary       `json:"total"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, Summary{}, fmt.Errorf("parsing count.mjs output: %w", err)
	}
	return res.Files, res.Total, nil
}

// Query runs SQL over a view named `shards` covering files and decodes the
// result rows (a JSON array of objects) into dst.
func Query(dst any, sql string, files ...string) error {
	out, err := Run(append([]string{"--sql", sql}, absAll(files)...)...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, dst); err != nil {
		return fmt.Errorf("parsing query result: %w", err)
	}
	return nil
}
