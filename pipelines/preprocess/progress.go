package preprocess

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/taskweave/taskweave/transforms/readcorpus"
)

// startProgress shows a spinner with the number of records read so far. The
// count comes from the ReadFn instances running in this process, which on
// prism (loopback) are all of them; on a remote runner it stays at zero and
// the line shows only the elapsed time.
func startProgress(w io.Writer, start time.Time) (stop func()) {
	if w == nil {
		return func() {}
	}
	base := readcorpus.RecordsRead()
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("preprocess: records read"),
		progressbar.OptionShowCount(),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				_ = bar.Set64(readcorpus.RecordsRead() - base)
				_ = bar.Finish()
				return
			case <-t.C:
				_ = bar.Set64(readcorpus.RecordsRead() - base)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
