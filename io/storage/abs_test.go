package storage_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/taskweave/taskweave/io/storage"
)

func TestAbs(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"gs://bucket/dir/../x", "gs://bucket/dir/../x"},
		{"/abs/./dir/", "/abs/dir"},
		{"rel/dir", filepath.Join(wd, "rel/dir")},
		{"./rel/../other", filepath.Join(wd, "other")},
	} {
		got, err := storage.Abs(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Abs(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
