package trainer

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is the run's terminal output: log lines and, optionally, a
// progress bar, plus the throughput window the bar and the log report.
type progress struct {
	log      io.Writer
	barOut   io.Writer
	bar      *progressbar.ProgressBar
	winTok   int64
	winStart time.Time
}

func newProgress(log, bar io.Writer) *progress {
	if log == nil {
		log = io.Discard
	}
	return &progress{log: log, barOut: bar, winStart: time.Now()}
}

// logf writes one log line.
func (p *progress) logf(format string, a ...any) {
	if p.bar != nil {
		// The bar redraws its line in place; a log line starts below it.
		fmt.Fprintln(p.log)
	}
	fmt.Fprintf(p.log, format+"\n", a...)
}

// start draws the bar (if any) at step of steps.
func (p *progress) start(steps, step int) {
	p.winStart = time.Now()
	if p.barOut == nil {
		return
	}
	p.bar = progressbar.NewOptions(steps, progressbar.OptionSetWriter(p.barOut), progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true), progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(500*time.Millisecond), progressbar.OptionSetWidth(20),
		progressbar.OptionShowDescriptionAtLineEnd())
	p.bar.Set(step)
}

// window counts padded tokens towards the current throughput window.
func (p *progress) window(padded int64) { p.winTok += padded }

// rate returns the window's padded tokens per second and starts a new one.
func (p *progress) rate() float64 {
	r := float64(p.winTok) / time.Since(p.winStart).Seconds()
	p.winTok, p.winStart = 0, time.Now()
	return r
}

func (p *progress) describe(s string) {
	if p.bar != nil {
		p.bar.Describe(s)
	}
}

func (p *progress) set(step int) {
	if p.bar != nil {
		p.bar.Set(step)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.barOut)
		p.bar = nil
	}
}

// budget decides when a time-limited run must stop: early enough that one
// more step, a final evaluation (as long as the last one took) and the
// final save still fit in the limit.
type budget struct {
	limit    time.Duration // 0 = none
	start    time.Time
	evals    bool          // the run evaluates at all
	lastEval time.Duration // how long the last evaluation took
}

func newBudget(limit time.Duration, evals bool) *budget {
	return &budget{limit: limit, start: time.Now(), evals: evals}
}

func (b *budget) evaluated(d time.Duration) { b.lastEval = d }

func (b *budget) since() time.Duration { return time.Since(b.start) }

// outOfTime reports whether the next step (taking about as long as the one
// that took stepDur) and the closing work would overrun the limit.
func (b *budget) outOfTime(stepDur time.Duration) bool {
	if b.limit <= 0 {
		return false
	}
	// Before the first evaluation its cost is unknown: keep 5% back.
	reserve := b.lastEval
	if reserve == 0 && b.evals {
		reserve = b.limit / 20
	}
	// Saving the last checkpoint and the summary takes a few seconds more.
	reserve += min(15*time.Second, b.limit/20)
	return time.Since(b.start)+reserve+2*stepDur >= b.limit
}
