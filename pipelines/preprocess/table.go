package preprocess

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"

	"github.com/taskweave/taskweave/io/manifest"
)

// WriteTable prints one line per task and split: examples (shard rows),
// tokens, truncated, windows, rejected and loose_iob2 (I-X tags that start a
// chunk, kept and read as chunk starts as conlleval does), then the totals.
func WriteTable(w io.Writer, m *manifest.Manifest) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "task\tsplit\texamples\ttokens\ttruncated\twindows\trejected\tloose_iob2\t")
	var tot manifest.Split
	for _, name := range slices.Sorted(maps.Keys(m.Tasks)) {
		t := m.Tasks[name]
		for _, split := range orderedSplits(t.Splits) {
			s := t.Splits[split]
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", name, split, s.Examples, s.Tokens, s.Truncated, s.Windows, s.Rejected, s.LooseIOB2)
			tot.Examples += s.Examples
			tot.Tokens += s.Tokens
			tot.Truncated += s.Truncated
			tot.Windows += s.Windows
			tot.Rejected += s.Rejected
			tot.LooseIOB2 += s.LooseIOB2
		}
	}
	fmt.Fprintf(tw, "total\t\t%d\t%d\t%d\t%d\t%d\t%d\t\n", tot.Examples, tot.Tokens, tot.Truncated, tot.Windows, tot.Rejected, tot.LooseIOB2)
	return tw.Flush()
}

func orderedSplits(m map[string]manifest.Split) []string {
	var out []string
	for _, s := range manifest.Splits {
		if _, ok := m[s]; ok {
			out = append(out, s)
		}
	}
	for _, s := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(manifest.Splits, s) {
			out = append(out, s)
		}
	}
	return out
}
