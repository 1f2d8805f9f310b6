package testcorpora

import (
	"os"
	"os/exec"
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
		cmd.Env = append(os.Environ(), "TESTCORPORA_CHILD="+t.TempDir(), "CI="+c.ci)
		out, err := cmd.CombinedOutput()
		if (err != nil) != c.fail || !strings.Contains(string(out), c.want) {
			t.Errorf("CI=%q: err %v, output\n%s", c.ci, err, out)
		}
	}
}
