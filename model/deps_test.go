package model

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoStorageOrPipelineDeps keeps the math free of Beam and storage clients
// (DESIGN.md), for model and every subpackage.
func TestNoStorageOrPipelineDeps(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	for _, tags := range []string{"", "openblas"} {
		out, err := exec.Command(goBin, "list", "-tags", tags, "-deps", "./...").CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps ./... (tags %q): %v\n%s", tags, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list printed only %d packages; the check would be vacuous", len(deps))
		}
		for _, d := range deps {
			for _, bad := range []string{"github.com/apache/beam", "cloud.google.com/go/storage", "github.com/taskweave/taskweave/io/storage"} {
				if d == bad || strings.HasPrefix(d, bad+"/") {
					t.Errorf("model imports %s (tags %q); the math must not depend on pipelines or storage", d, tags)
				}
			}
		}
	}
}
