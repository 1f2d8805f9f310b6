// Package shards defines the Parquet schema of taskweave's training and
// evaluation shards (one row per example, unpadded) and reads and writes them
// with parquet-go.
package shards

// Row is one example in a shard. Column names and meaning are fixed by DESIGN.md.
type Row struct {
	Task         string   `parquet:"task,dict"`
	Split        string   `parquet:"split,dict"`
	ExampleID    string   `parquet:"example_id"`
	InputIDs     []int32  `parquet:"input_ids,list" parquet-element:",dict"`
	TokenTypeIDs []int32  `parquet:"token_type_ids,list" parquet-element:",dict"`
	Label        int32    `parquet:"label"`
	Target       float32  `parquet:"target"`
	TokenLabels  []int32  `parquet:"token_labels,list" parquet-element:",dict"`
	WordIDs      []int32  `parquet:"word_ids,list" parquet-element:",dict"`
	Words        []string `parquet:"words,list" parquet-element:",dict"`
	Text         string   `parquet:"text"`
}
