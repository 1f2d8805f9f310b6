// Package beamerr shortens the error of a failed Beam job to what the user
// needs: the message of the DoFn that failed. The SDK wraps it in the
// runner's execution plan (a dozen lines of stages, coders and PCollection
// ids), which stays reachable through Unwrap and in the runner's log.
package beamerr

import "strings"

// doFnFailed ends the Beam SDK's "DoFn[UID:…, Name: …] failed:" line, after
// which the DoFn's own error follows.
const doFnFailed = "] failed:\n"

type jobError struct {
	what string
	err  error
}

func (e jobError) Error() string {
	msg := e.err.Error()
	if i := strings.LastIndex(msg, doFnFailed); i >= 0 {
		return strings.TrimSpace(msg[i+len(doFnFailed):])
	}
	return e.what + " pipeline failed: " + msg
}

func (e jobError) Unwrap() error { return e.err }

// Clean wraps the error of a Beam job that ran what ("preprocess",
// "evaluate"). Its message is the failed DoFn's own error when there is
// one, else "<what> pipeline failed: <err>". Clean(what, nil) is nil.
func Clean(what string, err error) error {
	if err == nil {
		return nil
	}
	return jobError{what, err}
}
