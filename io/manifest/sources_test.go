package manifest_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/taskweave/taskweave/io/manifest"
)

// A masked LM's source list resolved against the sample manifest (ner has
// train only, sst2 validation only): sources in the order given, shards
// resolved next to the manifest, a source without the split kept with
// HasSplit false, and every source the manifest lacks named in one error.
func TestTextSources(t *testing.T) {
	m := sample(t)
	nerTrain := []string{"out/ner/train/part-00000-of-00002.parquet", "out/ner/train/part-00001-of-00002.parquet"}
	cases := []struct {
		name    string
		sources []string
		split   string
		want    []manifest.TextSource
		missing []string
	}{
		{"train", []string{"sst2", "ner"}, "train", []manifest.TextSource{
			{Task: "sst2"},
			{Task: "ner", HasSplit: true, Shards: nerTrain, Examples: 14041}}, nil},
		{"validation", []string{"ner", "sst2"}, "validation", []manifest.TextSource{
			{Task: "ner"},
			{Task: "sst2", HasSplit: true, Shards: []string{"out/sst2/validation/part-00000-of-00001.parquet"}, Examples: 872}}, nil},
		{"missing", []string{"pos", "ner", "chunk"}, "train", nil, []string{"pos", "chunk"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := m.TextSources("out/manifest.json", "mlm", c.sources, c.split)
			var me *manifest.MissingSourcesError
			if c.missing != nil {
				if !errors.As(err, &me) || !reflect.DeepEqual(me.Missing, c.missing) || me.LM != "mlm" || me.Manifest != "out/manifest.json" {
					t.Fatalf("error %v (%+v); want the missing sources %q", err, me, c.missing)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("TextSources = %+v\nwant %+v", got, c.want)
			}
		})
	}
}
