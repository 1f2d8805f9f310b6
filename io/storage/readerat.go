package storage

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	gcs "cloud.google.com/go/storage"
)

// ReaderAt is random access to a file or object, for formats such as Parquet
// that read a footer first and then jump between column chunks.
type ReaderAt interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// OpenAt opens p for random access. On gs:// reads are ranged requests pinned
// to the generation seen at open (a concurrent overwrite cannot mix versions),
// fetched in 1 MiB blocks with a small LRU cache, so memory stays bounded
// whatever the object's size.
func OpenAt(ctx context.Context, p string) (ReaderAt, error) {
	if err := checkPath("open", p); err != nil {
		return nil, err
	}
	if isLocal(p) {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if st.IsDir() {
			f.Close()
			return nil, pathErr("open", p, errors.New("is a directory"))
		}
		return localReaderAt{f, st.Size()}, nil
	}
	obj, err := gcsObject(p)
	if err != nil {
		return nil, err
	}
	attrs, err := obj.Attrs(ctx)
	if err != nil {
		return nil, pathErr("open", p, err)
	}
	return &gcsReaderAt{
		ctx: ctx, path: p, obj: obj.Generation(attrs.Generation), size: attrs.Size,
		blocks: map[int64]*list.Element{}, lru: list.New(),
	}, nil
}

type localReaderAt struct {
	*os.File
	size int64
}

func (l localReaderAt) Size() int64 { return l.size }

const (
	blockSize   = 1 << 20
	cacheBlocks = 8
)

type gcsReaderAt struct {
	ctx  context.Context
	path string
	obj  *gcs.ObjectHandle
	size int64

	mu     sync.Mutex
	blocks map[int64]*list.Element // block index -> element holding *block
	lru    *list.List              // front = most recently used
}

type block struct {
	idx  int64
	data []byte
}

func (r *gcsReaderAt) Size() int64  { return r.size }
func (r *gcsReaderAt) Close() error { return nil }

func (r *gcsReaderAt) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, pathErr("read", r.path, fmt.Errorf("negative offset %d", off))
	}
	n := 0
	for n < len(b) && off < r.size {
		idx := off / blockSize
		data, err := r.block(idx)
		if err != nil {
			return n, err
		}
		c := copy(b[n:], data[off-idx*blockSize:])
		n += c
		off += int64(c)
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// block returns block idx, fetching it on a miss. Fetches run under the lock:
// Parquet readers mostly read sequentially per column, and one request at a
// time keeps the cache simple and memory bounded.
func (r *gcsReaderAt) block(idx int64) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.blocks[idx]; ok {
		r.lru.MoveToFront(e)
		return e.Value.(*block).data, nil
	}
	start := idx * blockSize
	length := min(blockSize, r.size-start)
	rd, err := r.obj.NewRangeReader(r.ctx, start, length)
	if err != nil {
		return nil, pathErr("read", r.path, err)
	}
	defer rd.Close()
	data := make([]byte, length)
	if _, err := io.ReadFull(rd, data); err != nil {
		return nil, pathErr("read", r.path, err)
	}
	if r.lru.Len() >= cacheBlocks {
		old := r.lru.Back()
		r.lru.Remove(old)
		delete(r.blocks, old.Value.(*block).idx)
	}
	r.blocks[idx] = r.lru.PushFront(&block{idx: idx, data: data})
	return data, nil
}
