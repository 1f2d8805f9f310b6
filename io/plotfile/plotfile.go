// Package plotfile writes a gonum plot as a PNG file, local or gs://, with
// the same atomic write as every other output (io/storage): the charts of
// evaluate's report and of a sweep's results.
package plotfile

import (
	"bytes"
	"context"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/taskweave/taskweave/io/storage"
)

// SavePNG draws p at w × h and writes it to dst.
func SavePNG(ctx context.Context, p *plot.Plot, dst string, w, h vg.Length) error {
	wt, err := p.WriterTo(w, h, "png")
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return err
	}
	return storage.WriteFile(ctx, dst, buf.Bytes())
}
