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

// The auxiliary example (masked LM, phases, auto_lambda) parses with the
// masked LM auxiliary by default.
func TestAuxiliaryExampleParses(t *testing.T) {
	s, err := Load("../../testdata/jobs/auxiliary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m := s.Tasks[2]; m.Type != "masked_lm" || !m.Auxiliary || len(m.Source) != 2 {
		t.Fatalf("masked LM task decoded wrongly: %+v", m)
	}
	if len(s.Train.Phases) != 2 || s.Train.Strategy.Name != "auto_lambda" || s.Train.Strategy.Holdout != 0.1 {
		t.Fatalf("train decoded wrongly: %+v", s.Train)
	}
}
