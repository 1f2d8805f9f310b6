package shards

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/taskweave/taskweave/io/storage"
)

// FormatVersion is written into every shard's created_by field. Fixing it
// (instead of parquet-go's default, which embeds the module version and build
// hash of whatever binary runs) keeps shards byte-identical across binaries.
const FormatVersion = "1"

// RowGroupRows bounds a row group: the writer holds one row group in memory
// before flushing, and readers page through one at a time.
const RowGroupRows = 8192

// Columns are the column names every shard carries, in schema order.
var Columns = []string{"task", "split", "example_id", "input_ids", "token_type_ids", "label",
	"target", "token_labels", "word_ids", "words", "text"}

// Writer writes rows to one shard. It does not close the underlying writer.
type Writer struct {
	pw   *parquet.GenericWriter[Row]
	rows int64
}

// Option tunes a Writer.
type Option func(*config)

type config struct{ rowGroupRows int64 }

// WithRowGroupRows sets the maximum number of rows per row group.
func WithRowGroupRows(n int) Option { return func(c *config) { c.rowGroupRows = int64(n) } }

// NewWriter starts a shard on w. The file is complete only after Close.
func NewWriter(w io.Writer, opts ...Option) *Writer {
	c := config{rowGroupRows: RowGroupRows}
	for _, o := range opts {
		o(&c)
	}
	pw := parquet.NewGenericWriter[Row](w,
		parquet.Compression(&parquet.Zstd),
		parquet.MaxRowsPerRowGroup(c.rowGroupRows),
		parquet.CreatedBy("taskweave", FormatVersion, "shards"),
	)
	return &Writer{pw: pw}
}

// Write appends rows.
func (w *Writer) Write(rows ...Row) error {
	if _, err := w.pw.Write(rows); err != nil {
		return fmt.Errorf("shards: writing rows %d..%d: %w", w.rows, w.rows+int64(len(rows)), err)
	}
	w.rows += int64(len(rows))
	return nil
}

// Rows returns the number of rows written so far.
func (w *Writer) Rows() int64 { return w.rows }

// Close flushes the last row group and writes the footer.
func (w *Writer) Close() error {
	if err := w.pw.Close(); err != nil {
		return fmt.Errorf("shards: finishing shard: %w", err)
	}
	return nil
}

// WriteFile writes rows as one shard at p (local or gs://); the shard appears
// only when complete.
func WriteFile(ctx context.Context, p string, rows []Row, opts ...Option) error {
	f, err := storage.Create(ctx, p)
	if err != nil {
		return err
	}
	w := NewWriter(f, opts...)
	if err := w.Write(rows...); err != nil {
		storage.Abort(f)
		return fmt.Errorf("%s: %w", p, err)
	}
	if err := w.Close(); err != nil {
		storage.Abort(f)
		return fmt.Errorf("%s: %w", p, err)
	}
	return f.Close()
}

// Reader streams rows from one shard; memory stays bounded by a page per
// column, whatever the shard's size.
type Reader struct {
	f      *parquet.File
	pr     *parquet.GenericReader[Row]
	closer io.Closer // the storage reader when opened by Open
}

// ErrCorrupt marks a file that is not a readable Parquet file: a damaged
// footer or page, a truncated file, or a file that parquet-go panicked on.
var ErrCorrupt = errors.New("corrupt Parquet file")

type corruptError struct{ why string }

func (e *corruptError) Error() string   { return "corrupt Parquet file (" + e.why + ")" }
func (e *corruptError) Is(t error) bool { return t == ErrCorrupt }

func corrupt(format string, a ...any) error { return &corruptError{fmt.Sprintf(format, a...)} }

// recoverCorrupt turns a parquet-go panic into a corrupt-file error: the
// library trusts offsets and lengths read from the file and can index out of
// range on damaged metadata. This is the one boundary where shard bytes meet
// parquet-go, so every caller (the trainer, evaluate) gets an error instead
// of a crash.
func recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		*err = corrupt("parquet-go: %v", r)
	}
}

// OpenReader opens a shard for streaming. It checks the footer's structure
// before parquet-go allocates from it, that every column chunk lies inside
// the file, and that the file carries every taskweave column, so a damaged
// or wrong file fails here, not mid-training. Errors do not name the file:
// Open (or the caller) adds it.
func OpenReader(r io.ReaderAt, size int64) (_ *Reader, err error) {
	if err := checkFooter(r, size); err != nil {
		return nil, corrupt("%v", err)
	}
	defer recoverCorrupt(&err)
	// The page index and bloom filters are for seeking and filtering, which
	// shards never do: skipping them leaves fewer structures to trust.
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, corrupt("%v", err)
	}
	if err := checkChunks(f, size); err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, fld := range f.Schema().Fields() {
		have[fld.Name()] = true
	}
	var missing []string
	for _, c := range Columns {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("shards: Parquet file lacks column(s) %s: not a taskweave shard (re-run preprocess to write one)", strings.Join(missing, ", "))
	}
	return &Reader{f: f, pr: parquet.NewGenericReader[Row](f)}, nil
}

// checkChunks checks the footer's row counts and that every column chunk's
// bytes lie inside the file.
func checkChunks(f *parquet.File, size int64) error {
	md := f.Metadata()
	if md.NumRows < 0 {
		return corrupt("footer claims %d rows", md.NumRows)
	}
	var rows int64
	for i, rg := range md.RowGroups {
		if rg.NumRows < 0 || rg.NumRows > md.NumRows-rows {
			return corrupt("row group %d claims %d rows; the footer's total is %d", i, rg.NumRows, md.NumRows)
		}
		rows += rg.NumRows
		for j, c := range rg.Columns {
			m := c.MetaData
			start := m.DataPageOffset
			if m.DictionaryPageOffset > 0 && m.DictionaryPageOffset < start {
				start = m.DictionaryPageOffset
			}
			if start < 4 || m.TotalCompressedSize < 0 || m.TotalCompressedSize > size-start {
				return corrupt("row group %d, column %d: bytes %d..+%d lie outside the %d-byte file", i, j, start, m.TotalCompressedSize, size)
			}
			if m.TotalUncompressedSize < 0 || m.TotalUncompressedSize > maxChunkBytes {
				return corrupt("row group %d, column %d claims %d uncompressed bytes (limit %d)", i, j, m.TotalUncompressedSize, int64(maxChunkBytes))
			}
		}
	}
	if rows != md.NumRows {
		return corrupt("row groups hold %d rows; the footer's total is %d", rows, md.NumRows)
	}
	return nil
}

// maxChunkBytes bounds one column chunk once decompressed. A row group holds
// at most RowGroupRows examples of at most a few thousand tokens each, far
// below this; a larger claim is damage.
const maxChunkBytes = 1 << 30

// Open opens the shard at p (local or gs://) for streaming; gs:// objects are
// read with ranged requests, never downloaded whole. Close releases both.
// Errors name p; a damaged file's error matches ErrCorrupt and reads
// "<p>: corrupt Parquet file (…)".
func Open(ctx context.Context, p string) (*Reader, error) {
	ra, err := storage.OpenAt(ctx, p)
	if err != nil {
		return nil, err
	}
	r, err := OpenReader(ra, ra.Size())
	if err != nil {
		ra.Close()
		return nil, fmt.Errorf("%s: %w%s", p, err, rerun(err))
	}
	r.closer = ra
	return r, nil
}

// rerun is the fix for a damaged shard.
func rerun(err error) string {
	if errors.Is(err, ErrCorrupt) {
		return "; delete it and re-run preprocess to rewrite it"
	}
	return ""
}

// NumRows returns the number of rows in the shard.
func (r *Reader) NumRows() int64 { return r.f.NumRows() }

// Read fills buf with the next rows and returns how many it read; io.EOF
// (possibly with n > 0) after the last row. Rows returned by earlier calls
// stay valid: buf's elements are reset first, so their slices are never
// handed back to the decoder for reuse.
func (r *Reader) Read(buf []Row) (n int, err error) {
	clear(buf)
	defer recoverCorrupt(&err)
	n, err = r.pr.Read(buf)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("shards: reading rows: %w", err)
	}
	return n, err
}

// Close releases the reader, and the underlying file if Open opened it.
func (r *Reader) Close() error {
	err := r.pr.Close()
	if r.closer != nil {
		if cerr := r.closer.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// ReadAll reads every row of the shard at p (local or gs://).
func ReadAll(ctx context.Context, p string) ([]Row, error) {
	r, err := Open(ctx, p)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// The footer's row count is only a hint: a damaged one must not size
	// an allocation.
	rows := make([]Row, 0, min(r.NumRows(), 1<<16))
	buf := make([]Row, 256)
	for {
		n, err := r.Read(buf)
		rows = append(rows, buf[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w%s", p, err, rerun(err))
		}
	}
	if int64(len(rows)) != r.NumRows() {
		return nil, fmt.Errorf("%s: read %d rows, footer says %d: the file is damaged; re-run preprocess", p, len(rows), r.NumRows())
	}
	return rows, nil
}

// ShardPath names shard i of n for a task and split:
// <out>/<task>/<split>/part-00000-of-00004.parquet.
func ShardPath(out, task, split string, i, n int) string {
	return storage.Join(out, task, split, ShardName(i, n))
}

// ShardName is the base name of shard i of n.
func ShardName(i, n int) string { return fmt.Sprintf("part-%05d-of-%05d.parquet", i, n) }

// RelPath is a shard path relative to the output directory, as the manifest
// records it (always slash-separated).
func RelPath(task, split string, i, n int) string { return path.Join(task, split, ShardName(i, n)) }

// SeekToRow positions the reader so the next Read starts at row i (0-based),
// so a shard can be read in row ranges by several workers.
func (r *Reader) SeekToRow(i int64) (err error) {
	defer recoverCorrupt(&err)
	if i < 0 || i > r.NumRows() {
		return fmt.Errorf("shards: row %d is outside the shard's %d rows", i, r.NumRows())
	}
	return r.pr.SeekToRow(i)
}
