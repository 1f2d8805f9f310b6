package main

import (
	"errors"
	"os"
	"syscall"

	"github.com/taskweave/taskweave/jobs/lock"
)

// Exit statuses, so that cron, Kubernetes and shell scripts can tell a busy
// job or an interrupted run from a failure. Only main calls os.Exit.
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2   // unknown command or bad flags
	exitLocked    = 3   // another run holds the job's lock (run without --wait)
	exitLeaseLost = 4   // the job's lease was lost mid-run; the stage was stopped after saving
	exitSignal    = 128 // + the signal number: 130 for SIGINT, 143 for SIGTERM, after saving
)

// exitStatus maps a command's outcome to the process's exit status. A
// signal wins: the command stopped because it was asked to, whatever error
// the interruption produced on the way out.
func exitStatus(err error, sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return exitSignal + int(s)
	}
	var held *lock.HeldError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &held):
		return exitLocked
	case errors.Is(err, lock.ErrLost):
		return exitLeaseLost
	}
	return exitError
}
