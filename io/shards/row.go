// Package shards defines the Parquet schema of taskweave's training and
// evaluation shards (one row per example, unpadded) and reads and writes them
// with parquet-go.
//
// Layout (DESIGN.md): zstd on every column, dictionary-encoded list elements
// and task/split, at most RowGroupRows rows per row group. Output is a pure
// function of the rows: created_by is fixed and no key/value metadata or
// timestamps are written, so the same rows give byte-identical files in any
// process (testdata/golden.parquet pins this).
//
// Additions to the contract in docs/architecture.md (all additive): Open
// (stream a local or gs:// shard), WriteFile, Writer.Rows, WithRowGroupRows,
// ShardName and RelPath (the manifest's relative shard paths), Columns.
// Subpackage duckcheck reads shards back with DuckDB for independent checks.
//
// Shards are untrusted bytes (a disk or bucket can damage them): OpenReader
// walks the footer's thrift structure and refuses lengths the file cannot
// hold before parquet-go allocates from them, checks that column chunks lie
// inside the file, and turns any parquet-go panic into an error matching
// ErrCorrupt; Open prefixes the path ("<shard>: corrupt Parquet file (…)").
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
