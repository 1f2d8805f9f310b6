// Package registry keeps trained models as immutable versions, each with the
// evaluation report it was judged by, plus a `production` pointer that moves
// only through generation-checked writes: a rename-like atomic replace on
// local disk, a GenerationMatch precondition on GCS. Two promotions racing
// cannot both win, and a reader never sees a half-written pointer.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/taskweave/taskweave/io/storage"
)

// Version describes one registered model.
type Version struct {
	ID        string             `json:"id"`
	Created   time.Time          `json:"created"`
	RunID     string             `json:"run_id,omitempty"`
	SpecHash  string             `json:"spec_hash,omitempty"`
	Source    string             `json:"source"`             // checkpoint directory it was copied from
	Scores    map[string]float64 `json:"scores"`             // task → primary metric on the evaluation data
	Examples  map[string]int64   `json:"examples,omitempty"` // task → labelled examples those scores are over
	Auxiliary []string           `json:"auxiliary,omitempty"`
	DataHash  string             `json:"data_fingerprint,omitempty"`
}

// Pointer is the content of production.json.
type Pointer struct {
	Version string    `json:"version"`
	Updated time.Time `json:"updated"`
	Reason  string    `json:"reason"`
	History []string  `json:"history,omitempty"` // earlier production versions, newest last
}

// Registry is a directory (local or gs://).
type Registry struct{ Root string }

// Open returns the registry rooted at root.
func Open(root string) *Registry { return &Registry{Root: root} }

func (r *Registry) versionDir(id string) string { return storage.Join(r.Root, "versions", id) }
func (r *Registry) pointerPath() string         { return storage.Join(r.Root, "production.json") }

// Register copies a checkpoint directory and its report into a new immutable
// version. version.json is written last: a version without it is incomplete
// and ignored.
func (r *Registry) Register(ctx context.Context, checkpointDir, reportPath string, v Version) (Version, error) {
	if v.ID == "" {
		v.ID = time.Now().UTC().Format("20060102T150405Z")
	}
	if v.Created.IsZero() {
		v.Created = time.Now().UTC()
	}
	v.Source = checkpointDir
	dir := r.versionDir(v.ID)
	if ok, err := storage.Exists(ctx, storage.Join(dir, "version.json")); err != nil {
		return v, err
	} else if ok {
		return v, fmt.Errorf("registry: version %s already exists; versions are immutable, register under a new id", v.ID)
	}
	files, err := storage.List(ctx, storage.Join(checkpointDir, "*"))
	if err != nil {
		return v, fmt.Errorf("registry: list %s: %w", checkpointDir, err)
	}
	if len(files) == 0 {
		return v, fmt.Errorf("registry: checkpoint directory %s is empty or missing", checkpointDir)
	}
	for _, f := range files {
		base := path.Base(f)
		if strings.HasPrefix(base, "trainer_state") {
			continue // optimizer state belongs to the training run, not the model
		}
		if err := copyFile(ctx, f, storage.Join(dir, "model", base)); err != nil {
			return v, err
		}
	}
	if reportPath != "" {
		if err := copyFile(ctx, reportPath, storage.Join(dir, "report.json")); err != nil {
			return v, err
		}
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	if err := storage.WriteFile(ctx, storage.Join(dir, "version.json"), b); err != nil {
		return v, err
	}
	return v, nil
}

// ModelDir is where a version's checkpoint lives.
func (r *Registry) ModelDir(id string) string { return storage.Join(r.versionDir(id), "model") }

// Get reads a version's description.
func (r *Registry) Get(ctx context.Context, id string) (Version, error) {
	var v Version
	b, err := storage.ReadFile(ctx, storage.Join(r.versionDir(id), "version.json"))
	if err != nil {
		return v, fmt.Errorf("registry: version %s: %w", id, err)
	}
	err = json.Unmarshal(b, &v)
	return v, err
}

// Versions lists complete versions, oldest first.
func (r *Registry) Versions(ctx context.Context) ([]Version, error) {
	files, err := storage.List(ctx, storage.Join(r.Root, "versions", "*", "version.json"))
	if err != nil {
		return nil, err
	}
	var out []Version
	for _, f := range files {
		id := path.Base(path.Dir(f))
		v, err := r.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Production returns the current pointer and its generation; ok is false
// when nothing has been promoted yet.
func (r *Registry) Production(ctx context.Context) (p Pointer, gen int64, ok bool, err error) {
	b, gen, err := storage.ReadGen(ctx, r.pointerPath())
	if errors.Is(err, fs.ErrNotExist) {
		return p, 0, false, nil
	}
	if err != nil {
		return p, 0, false, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, 0, false, fmt.Errorf("registry: %s is corrupt: %v", r.pointerPath(), err)
	}
	return p, gen, true, nil
}

// Promote points production at version id. It fails with
// storage.ErrPrecondition if the pointer changed since it was read (another
// promotion won); the caller may re-read and decide again.
func (r *Registry) Promote(ctx context.Context, id, reason string) (Pointer, error) {
	if _, err := r.Get(ctx, id); err != nil {
		return Pointer{}, err
	}
	cur, gen, ok, err := r.Production(ctx)
	if err != nil {
		return Pointer{}, err
	}
	next := Pointer{Version: id, Updated: time.Now().UTC(), Reason: reason}
	if ok {
		if cur.Version == id {
			return cur, fmt.Errorf("registry: version %s is already in production", id)
		}
		next.History = append(append([]string{}, cur.History...), cur.Version)
	}
	return next, r.writePointer(ctx, next, gen)
}

// Rollback points production back at the previous production version.
func (r *Registry) Rollback(ctx context.Context, reason string) (Pointer, error) {
	cur, gen, ok, err := r.Production(ctx)
	if err != nil {
		return Pointer{}, err
	}
	if !ok || len(cur.History) == 0 {
		return cur, errors.New("registry: nothing to roll back to: production has no earlier version")
	}
	prev := cur.History[len(cur.History)-1]
	next := Pointer{Version: prev, Updated: time.Now().UTC(), Reason: reason, History: cur.History[:len(cur.History)-1]}
	return next, r.writePointer(ctx, next, gen)
}

func (r *Registry) writePointer(ctx context.Context, p Pointer, gen int64) error {
	b, _ := json.MarshalIndent(p, "", "  ")
	_, err := storage.WriteGen(ctx, r.pointerPath(), b, gen)
	return err
}

func copyFile(ctx context.Context, src, dst string) error {
	in, err := storage.Open(ctx, src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := storage.Create(ctx, dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("registry: copy %s → %s: %w", src, dst, err)
	}
	return out.Close()
}
