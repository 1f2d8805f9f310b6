package metrics

import (
	"reflect"
	"strings"
	"testing"
)

func tags(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}

// The chunk-boundary cases conlleval is known for. conlleval reads IOB1 and
// IOB2 with the same rules, so each case lists the chunks once for both
// (conlleval) and once for strict IOB2, plus the ill-formed counts under each
// scheme. Reasoning per case, from conlleval's startOfChunk/endOfChunk:
func TestChunks(t *testing.T) {
	type c = Chunk
	tests := []struct {
		name          string
		tags          string
		conll, strict []Chunk
		badIOB1       int64 // B- not following a chunk of its own type
		badIOB2       int64 // I- not continuing a chunk of its own type
	}{
		// I- after O starts a chunk (start rule O,I); strict IOB2 drops it.
		{name: "I after O", tags: "O I-PER I-PER O",
			conll: []c{{"PER", 1, 3}}, strict: nil, badIOB1: 0, badIOB2: 1},
		// The same sentence as IOB1 writes it at the start of a sentence.
		{name: "I at sentence start", tags: "I-ORG O",
			conll: []c{{"ORG", 0, 1}}, strict: nil, badIOB1: 0, badIOB2: 1},
		// Type change inside a chunk: the type rule ends PER and starts LOC.
		{name: "type change IOB2", tags: "B-PER I-PER I-LOC O",
			conll: []c{{"PER", 0, 2}, {"LOC", 2, 3}}, strict: []c{{"PER", 0, 2}}, badIOB1: 1, badIOB2: 1},
		{name: "type change IOB1", tags: "I-PER I-PER I-LOC O",
			conll: []c{{"PER", 0, 2}, {"LOC", 2, 3}}, strict: nil, badIOB1: 0, badIOB2: 2},
		// B- of a single token: B after B ends and starts; B after O starts.
		{name: "single-token B IOB2", tags: "B-PER B-PER I-PER",
			conll: []c{{"PER", 0, 1}, {"PER", 1, 3}}, strict: []c{{"PER", 0, 1}, {"PER", 1, 3}}, badIOB1: 1, badIOB2: 0},
		{name: "adjacent chunks IOB1", tags: "I-PER B-PER I-PER",
			conll: []c{{"PER", 0, 1}, {"PER", 1, 3}}, strict: []c{{"PER", 1, 3}}, badIOB1: 0, badIOB2: 1},
		{name: "lone B between O", tags: "O B-LOC O",
			conll: []c{{"LOC", 1, 2}}, strict: []c{{"LOC", 1, 2}}, badIOB1: 1, badIOB2: 0},
		// Sentence ends inside a chunk: the boundary closes it.
		{name: "ends inside chunk IOB2", tags: "O B-ORG I-ORG",
			conll: []c{{"ORG", 1, 3}}, strict: []c{{"ORG", 1, 3}}, badIOB1: 1, badIOB2: 0},
		{name: "ends inside chunk IOB1", tags: "O I-ORG",
			conll: []c{{"ORG", 1, 2}}, strict: nil, badIOB1: 0, badIOB2: 1},
		// B-X then I-Y: I-Y starts its own chunk (type rule); strict drops it.
		{name: "I of other type after B", tags: "B-PER I-LOC",
			conll: []c{{"PER", 0, 1}, {"LOC", 1, 2}}, strict: []c{{"PER", 0, 1}}, badIOB1: 1, badIOB2: 1},
		// A gap of O: the I- after it starts a new chunk of the same type.
		{name: "O gap", tags: "B-PER O I-PER",
			conll: []c{{"PER", 0, 1}, {"PER", 2, 3}}, strict: []c{{"PER", 0, 1}}, badIOB1: 1, badIOB2: 1},
		// B after I of another type.
		{name: "B after I of other type", tags: "I-MISC B-LOC",
			conll: []c{{"MISC", 0, 1}, {"LOC", 1, 2}}, strict: []c{{"LOC", 1, 2}}, badIOB1: 1, badIOB2: 1},
		{name: "all O", tags: "O O O", badIOB1: 0, badIOB2: 0},
		{name: "empty sentence", tags: ""},
		// Types may contain '-': conlleval splits at the first one only.
		{name: "dashed type", tags: "B-B-X I-B-X",
			conll: []c{{"B-X", 0, 2}}, strict: []c{{"B-X", 0, 2}}, badIOB1: 1, badIOB2: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := tags(tc.tags)
			for _, s := range []Scheme{IOB1, IOB2} {
				if got := Chunks(ts, s); !reflect.DeepEqual(got, tc.conll) {
					t.Errorf("%s chunks %v, want %v", s, got, tc.conll)
				}
			}
			if got := Chunks(ts, StrictIOB2); !reflect.DeepEqual(got, tc.strict) {
				t.Errorf("strict chunks %v, want %v", got, tc.strict)
			}
			if got := invalid(ts, IOB1); got != tc.badIOB1 {
				t.Errorf("IOB1 ill-formed %d, want %d", got, tc.badIOB1)
			}
			if got := invalid(ts, IOB2); got != tc.badIOB2 {
				t.Errorf("IOB2 ill-formed %d, want %d", got, tc.badIOB2)
			}
		})
	}
}

// A three-sentence evaluation worked by hand.
//
//	s1 gold B-PER O O B-LOC I-LOC     chunks PER[0,1) LOC[3,5)
//	   pred B-PER O O B-LOC O         chunks PER[0,1) LOC[3,4)       correct: PER
//	s2 gold B-ORG I-ORG O B-MISC      chunks ORG[0,2) MISC[3,4)
//	   pred I-ORG I-ORG O B-PER       chunks ORG[0,2) PER[3,4)       correct: ORG
//	                                  (strict: PER[3,4) only)
//	s3 gold O B-LOC I-LOC             chunks LOC[1,3)  (sentence ends in the chunk)
//	   pred O B-LOC I-LOC             same                            correct: LOC
//
// conlleval (IOB2): gold PER1 LOC2 ORG1 MISC1 = 5; pred PER2 LOC2 ORG1 = 5;
// correct PER1 LOC1 ORG1 = 3 → P = R = F1 = 3/5.
// PER P 1/2 R 1 F1 2/3; LOC P 1/2 R 1/2 F1 1/2; ORG 1/1/1; MISC 0/0/0.
// Tokens: 4/5 + 2/4 + 3/3 = 9/12 = 0.75. Ill-formed IOB2 prediction tags: 1.
// Strict IOB2: pred PER2 LOC2 = 4, correct 2 → P 1/2, R 2/5, F1 4/9.
func TestEntitiesMultiSentence(t *testing.T) {
	sents := [][2]string{
		{"B-PER O O B-LOC I-LOC", "B-PER O O B-LOC O"},
		{"B-ORG I-ORG O B-MISC", "I-ORG I-ORG O B-PER"},
		{"O B-LOC I-LOC", "O B-LOC I-LOC"},
	}
	run := func(s Scheme, idx ...int) *Entities {
		e := NewEntities(s)
		for _, i := range idx {
			if err := e.Add(tags(sents[i][0]), tags(sents[i][1])); err != nil {
				t.Fatal(err)
			}
		}
		return e
	}
	r := run(IOB2, 0, 1, 2).Result()
	if !near(r.Micro.Precision, 0.6) || !near(r.Micro.Recall, 0.6) || !near(r.Micro.F1, 0.6) {
		t.Errorf("micro %+v, want 0.6/0.6/0.6", r.Micro)
	}
	want := map[string][3]float64{
		"PER": {0.5, 1, 2.0 / 3}, "LOC": {0.5, 0.5, 0.5}, "ORG": {1, 1, 1}, "MISC": {0, 0, 0},
	}
	for typ, w := range want {
		p := r.PerType[typ]
		if !near(p.Precision, w[0]) || !near(p.Recall, w[1]) || !near(p.F1, w[2]) {
			t.Errorf("%s %+v, want P %v R %v F1 %v", typ, p, w[0], w[1], w[2])
		}
	}
	if !reflect.DeepEqual(r.Types, []string{"LOC", "MISC", "ORG", "PER"}) {
		t.Errorf("types %v", r.Types)
	}
	if !near(r.TokenAccuracy, 0.75) || r.Tokens != 12 || r.Sentences != 3 {
		t.Errorf("token accuracy %v over %d tokens, %d sentences", r.TokenAccuracy, r.Tokens, r.Sentences)
	}
	if r.PredInvalid != 1 || r.GoldInvalid != 0 {
		t.Errorf("ill-formed gold %d pred %d, want 0 1", r.GoldInvalid, r.PredInvalid)
	}
	// IOB1 reads the same chunks (conlleval does not look at the scheme).
	if r1 := run(IOB1, 0, 1, 2).Result(); r1.Micro != r.Micro {
		t.Errorf("IOB1 micro %+v differs from IOB2 %+v", r1.Micro, r.Micro)
	}
	s := run(StrictIOB2, 0, 1, 2).Result()
	if !near(s.Micro.Precision, 0.5) || !near(s.Micro.Recall, 0.4) || !near(s.Micro.F1, 4.0/9) {
		t.Errorf("strict micro %+v, want 0.5/0.4/0.444", s.Micro)
	}
	// Partial accumulators merged (through JSON, as Beam moves them) agree.
	a, b := run(IOB2, 2, 0), run(IOB2, 1)
	var b2 Entities
	roundTrip(t, b, &b2)
	if err := a.Merge(&b2); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Result(), r) {
		t.Errorf("merged %+v\nwant %+v", a.Result(), r)
	}
	if err := a.Merge(NewEntities(StrictIOB2)); err == nil {
		t.Error("merge across schemes accepted")
	}
	if err := a.Add(tags("O"), nil); err == nil {
		t.Error("length mismatch accepted")
	}
}

// The IOB1 form of the CoNLL-2003 example "U.N. official Ekeus heads for
// Baghdad": IOB1 uses I- for chunk starts and B- only between two adjacent
// chunks of the same type.
func TestEntitiesIOB1Adjacent(t *testing.T) {
	e := NewEntities(IOB1)
	// gold: ORG[0,1) PER[2,3) and three adjacent LOC chunks [5,6) [6,7) [7,8)
	gold := tags("I-ORG O I-PER O O I-LOC B-LOC B-LOC")
	// pred merges the last two LOC chunks into one, [6,8)
	pred := tags("I-ORG O I-PER O O I-LOC B-LOC I-LOC")
	if err := e.Add(gold, pred); err != nil {
		t.Fatal(err)
	}
	r := e.Result()
	// gold 5 chunks; pred ORG[0,1) PER[2,3) LOC[5,6) LOC[6,8) = 4, of which
	// the first three match.
	if r.Micro.Correct != 3 || r.Micro.Support != 5 || r.Micro.Predicted != 4 {
		t.Errorf("counts %+v, want correct 3 gold 5 pred 4", r.Micro)
	}
	if r.GoldInvalid != 0 || r.PredInvalid != 0 {
		t.Errorf("well-formed IOB1 flagged: %d %d", r.GoldInvalid, r.PredInvalid)
	}
}

func TestParseScheme(t *testing.T) {
	for in, want := range map[string]Scheme{"iob1": IOB1, "IOB2": IOB2, "strict_iob2": StrictIOB2} {
		if got, err := ParseScheme(in); err != nil || got != want {
			t.Errorf("ParseScheme(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseScheme("bioes"); err == nil {
		t.Error("bioes accepted")
	}
}
