package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// signalContext is cancelled on Ctrl-C or SIGTERM so that long stages (train
// above all) can write a checkpoint and exit cleanly instead of dying
// mid-write. received reports the first signal, so main can exit with the
// shell's 128+n status after the command has saved its state.
func signalContext() (ctx context.Context, stop func(), received func() os.Signal) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	var mu sync.Mutex
	var got os.Signal
	go func() {
		for sig := range ch {
			mu.Lock()
			if got == nil {
				got = sig
			}
			mu.Unlock()
			cancel()
		}
	}()
	stop = func() { signal.Stop(ch); cancel() }
	received = func() os.Signal {
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	return ctx, stop, received
}
