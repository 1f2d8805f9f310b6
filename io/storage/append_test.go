package storage_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/taskweave/taskweave/io/storage"
)

// Appending across flushes and reopenings gives the concatenation, on both
// backends; on gs:// this goes through compose and, past the component
// limit, through a whole rewrite.
func TestAppend(t *testing.T) {
	ctx := context.Background()
	defer storage.SetMaxComponents(3)()
	for name, root := range roots(t) {
		t.Run(name, func(t *testing.T) {
			p := storage.Join(root, "run", "metrics.jsonl")
			var want strings.Builder
			for open := 0; open < 3; open++ {
				a, err := storage.OpenAppend(ctx, p, time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 4; i++ {
					line := fmt.Sprintf("{\"open\":%d,\"line\":%d}\n", open, i)
					want.WriteString(line)
					if _, err := a.Write([]byte(line)); err != nil {
						t.Fatal(err)
					}
					if i%2 == 1 {
						if err := a.Flush(); err != nil {
							t.Fatalf("flush %d/%d: %v", open, i, err)
						}
					}
				}
				if err := a.Close(); err != nil {
					t.Fatal(err)
				}
				got, err := storage.ReadFile(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != want.String() {
					t.Fatalf("after %d openings the log is\n%s\nwant\n%s", open+1, got, want.String())
				}
			}
			// No part objects or temp files are left beside the log.
			names, err := storage.Walk(ctx, storage.Join(root, "run"))
			if err != nil {
				t.Fatal(err)
			}
			if len(names) != 1 || names[0] != "metrics.jsonl" {
				t.Fatalf("directory holds %v, want only metrics.jsonl", names)
			}
		})
	}
}

// On gs:// what is written after the last flush is all a crash can lose:
// flushed lines are in the object, buffered ones are not yet.
func TestAppendGCSFlushBound(t *testing.T) {
	ctx := context.Background()
	p := storage.Join(roots(t)["gcs"], "metrics.jsonl")
	a, err := storage.OpenAppend(ctx, p, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("one\n"))
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("two\n")) // buffered: the interval has not passed
	got, err := storage.ReadFile(ctx, p)
	if err != nil || string(got) != "one\n" {
		t.Fatalf("before the second flush the object is %q (%v), want %q", got, err, "one\n")
	}
	// interval 0: every Write flushes.
	b, err := storage.OpenAppend(ctx, p, 0)
	if err != nil {
		t.Fatal(err)
	}
	b.Write([]byte("three\n"))
	if got, _ := storage.ReadFile(ctx, p); string(got) != "one\nthree\n" {
		t.Fatalf("after an immediate write the object is %q", got)
	}
	// The first appender's view is stale now: its flush must fail, not
	// overwrite the other's line.
	if err := a.Flush(); err == nil {
		t.Fatal("a stale appender's flush succeeded")
	}
}

// What a writer killed mid-flush leaves beside the log (a gs:// part that
// was uploaded but never composed and deleted; a local temporary file) is
// gone once the log is reopened, and the log itself is untouched.
func TestAppendRemovesLeftovers(t *testing.T) {
	ctx := context.Background()
	for name, root := range roots(t) {
		t.Run(name, func(t *testing.T) {
			p := storage.Join(root, "run", "metrics.jsonl")
			other := storage.Join(root, "run", ".other.jsonl.tw-tmp-0123")
			for _, f := range []string{p, storage.Join(root, "run", ".metrics.jsonl.tw-tmp-9f8e7d6c5b4a3210"), other} {
				if err := storage.WriteFile(ctx, f, []byte("x\n")); err != nil {
					t.Fatal(err)
				}
			}
			a, err := storage.OpenAppend(ctx, p, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			left := hiddenNames(t, storage.Join(root, "run"))
			if len(left) != 1 || left[0] != ".other.jsonl.tw-tmp-0123" {
				t.Fatalf("hidden names after reopening: %q, want only another file's", left)
			}
			if got, _ := storage.ReadFile(ctx, p); string(got) != "x\n" {
				t.Fatalf("the log became %q", got)
			}
		})
	}
}

// hiddenNames lists the temporary names in dir, which Walk and List hide
// locally.
func hiddenNames(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	if storage.IsGCS(dir) {
		names, err := storage.Walk(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if strings.Contains(n, ".tw-tmp-") {
				out = append(out, n)
			}
		}
		return out
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tw-tmp-") {
			out = append(out, e.Name())
		}
	}
	return out
}
