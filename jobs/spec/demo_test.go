package spec

import "testing"

// The demo job is the README's front door: it must always parse.
func TestDemoSpecParses(t *testing.T) {
	s, err := Load("../../testdata/jobs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tasks) != 3 || s.Tasks[2].TagScheme != "iob2" || s.Tasks[1].Columns.Field != "upos" {
		t.Fatalf("demo spec decoded wrongly: %+v", s.Tasks)
	}
}
