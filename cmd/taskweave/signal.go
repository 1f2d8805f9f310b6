package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// signalContext is cancelled on Ctrl-C or SIGTERM so that long stages (train
// above all) can write a checkpoint and exit cleanly instead of dying mid-write.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
