package kernels

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNothingAbove keeps the raw-slice compute below the model: it
// works on []float32 and knows no Param, layer or head. Of the project it
// may import only internal/ (the splitmix64 stream the dropout masks share
// with the trainer), which imports nothing of the project itself.
func TestImportsNothingAbove(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	const project = "github.com/taskweave/taskweave/"
	for _, tags := range []string{"", "openblas"} {
		out, err := exec.Command(goBin, "list", "-tags", tags, "-deps", ".").CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps (tags %q): %v\n%s", tags, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list printed only %d packages; the check would be vacuous", len(deps))
		}
		for _, d := range deps {
			if strings.HasPrefix(d, project) && d != project+"model/kernels" && !strings.HasPrefix(d, project+"internal/") {
				t.Errorf("model/kernels imports %s (tags %q); it must import nothing of the project above internal/", d, tags)
			}
		}
	}
}
