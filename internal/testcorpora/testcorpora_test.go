package testcorpora

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Run in a child process from a directory with no shared/corpora above it:
// without CI the test skips, with CI set it fails.
func TestMissingFailsUnderCI(t *testing.T) {
	if os.Getenv("TESTCORPORA_CHILD") != "" {
		if err := os.Chdir(os.Getenv("TESTCORPORA_CHILD")); err != nil {
			t.Fatal(err)
		}
		Dir(t)
		t.Fatal("Dir returned without shared/corpora")
	}
	empty := t.TempDir()
	for d := empty; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "shared", "corpora")); err == nil {
			t.Skipf("%s has a shared/corpora above it; the child needs a directory without one", empty)
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ci   string
		fail bool
		want string
	}{{"", false, "SKIP"}, {"true", true, "CI is set, so this is a failure"}} {
		cmd := exec.Command(exe, "-test.run=^TestMissingFailsUnderCI$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTCORPORA_CHILD="+empty, "CI="+c.ci)
		out, err := cmd.CombinedOutput()
		if (err != nil) != c.fail || !strings.Contains(string(out), c.want) {
			t.Errorf("CI=%q: err %v, output\n%s", c.ci, err, out)
		}
	}
}
