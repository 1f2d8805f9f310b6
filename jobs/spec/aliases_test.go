package spec

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/taskweave/taskweave/internal/hostile"
)

// laughs is the billion laughs of issue 26: anchors x0 … x<levels> at the
// top level, each a list of nine aliases of the one before, and the last
// one used as a value.
func laughs(levels int) string {
	var b strings.Builder
	b.WriteString(`x0: &x0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "x%d: &x%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*x%d,", i-1), 9), ","))
	}
	fmt.Fprintf(&b, "name: demo\nschedule: *x%d\n", levels)
	return b.String()
}

// TestParseBoundsAliases: nested anchors made validate grow to 4.6 GB
// (8 levels: 1.7 GB and 6.4 s before its error). Parse now counts what the
// aliases expand to before decoding and refuses the spec at the alias that
// passes maxAliasNodes, in a few MB.
func TestParseBoundsAliases(t *testing.T) {
	for _, c := range []struct {
		name, doc, want string
	}{
		{"8 levels", laughs(8), "line 5: the alias *x3 takes the YAML aliases of this spec past 10000 values"},
		{"12 levels", laughs(12), "line 5: the alias *x3"},
		{"many flat aliases", "a: &a [1,2,3,4,5,6,7,8,9]\nc: [" + strings.Repeat("*a, ", 2000) + "]\n", "line 2: the alias *a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, problem := hostile.Run(hostile.Limits{Time: 10 * time.Second, Alloc: 32 << 20}, func() error {
				_, err := Parse([]byte(c.doc), "/x")
				return err
			})
			if problem != nil {
				t.Fatal(problem)
			}
			if out.Err == nil || !strings.Contains(out.Err.Error(), c.want) {
				t.Fatalf("err = %v; want %q", out.Err, c.want)
			}
		})
	}
}

// TestParseKeepsSmallAliases: reusing a block with an anchor is ordinary
// YAML and still decodes, with the alias's value copied.
func TestParseKeepsSmallAliases(t *testing.T) {
	doc := strings.Replace(minimal, "      validation: [dev.tsv]\n", "      validation: [dev.tsv]\n    columns: &cols {text: sentence, label: label}\n", 1) +
		"  - name: sst2b\n    type: sequence_classification\n    format: tsv\n    columns: *cols\n    paths:\n      train: [b.tsv]\n      validation: [bdev.tsv]\n"
	s, err := Parse([]byte(doc), "/jobs")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Tasks[1].Columns.Label; got != "label" {
		t.Fatalf("alias not expanded: tasks[1].columns.label = %q", got)
	}
}
