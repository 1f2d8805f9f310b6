package main

import (
	"os/exec"
	"strings"
	"testing"
)

// A command's -h lists its own flags and points at Beam's options instead of
// burying the former under the latter; `help beam` lists the latter.
func TestHelp(t *testing.T) {
	bin := buildBinary(t)
	cases := []struct {
		args      []string
		want, not []string
	}{
		{[]string{"train", "-h"}, []string{"-time-limit duration", "-resume", "taskweave help beam"}, []string{"-autoscaling_algorithm", "  -runner string"}},
		{[]string{"evaluate", "-h"}, []string{"-compare", "taskweave help beam"}, []string{"-autoscaling_algorithm"}},
		{[]string{"help", "beam"}, []string{"-runner", "-autoscaling_algorithm", "-temp_location"}, []string{"-time-limit"}},
	}
	for _, c := range cases {
		out, _ := exec.Command(bin, c.args...).CombinedOutput()
		for _, w := range c.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("taskweave %s: no %q in\n%s", strings.Join(c.args, " "), w, out)
			}
		}
		for _, n := range c.not {
			if strings.Contains(string(out), n) {
				t.Errorf("taskweave %s: unexpected %q", strings.Join(c.args, " "), n)
			}
		}
	}
}
