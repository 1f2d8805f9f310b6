// Package gcstest runs fake-gcs-server (a real GCS emulator speaking the JSON
// and XML APIs) inside the test process, so gs:// code paths are tested end to
// end without credentials or network.
//
// The emulator listens on 127.0.0.1 on a random port over plain HTTP, and its
// public host is set to that address: the Go client reads objects through the
// XML API at http://<STORAGE_EMULATOR_HOST>/<bucket>/<object>, and the emulator
// only answers those requests when the Host header equals its public host.
package gcstest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// Server is a running emulator.
type Server struct {
	// Host is the value to put in STORAGE_EMULATOR_HOST ("http://127.0.0.1:port").
	Host   string
	fake   *fakestorage.Server
	http   *http.Server
	closed chan struct{}
	err    error // from Serve, other than a normal shutdown
}

// Start starts an emulator for the test, points STORAGE_EMULATOR_HOST at it
// for the rest of the test (so tests using it cannot run in parallel), creates
// an empty bucket and returns its name. The emulator stops at test cleanup.
func Start(t testing.TB) (bucket string) {
	t.Helper()
	s, err := NewServer()
	if err != nil {
		t.Fatalf("gcstest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("gcstest: %v", err)
		}
	})
	t.Setenv("STORAGE_EMULATOR_HOST", s.Host)
	return s.CreateBucket()
}

// NewServer starts an emulator without touching the environment (for tools and
// benchmarks that manage STORAGE_EMULATOR_HOST themselves). Close stops it.
func NewServer() (*Server, error) {
	// Listen first: the public host and the upload URLs must carry the real
	// port, which is only known once the listener exists.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening on 127.0.0.1: %w", err)
	}
	addr := l.Addr().String()
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		NoListener:  true,
		Scheme:      "http",
		PublicHost:  addr,
		ExternalURL: "http://" + addr,
	})
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("starting fake-gcs-server: %w", err)
	}
	s := &Server{
		Host:   "http://" + addr,
		fake:   fake,
		http:   &http.Server{Handler: fake.HTTPHandler()},
		closed: make(chan struct{}),
	}
	go func() {
		defer close(s.closed)
		if err := s.http.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.err = fmt.Errorf("emulator stopped serving: %w", err)
		}
	}()
	return s, nil
}

// CreateBucket creates a bucket with a random name and returns the name.
func (s *Server) CreateBucket() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "taskweave-test-" + hex.EncodeToString(b)
	s.fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
	return name
}

// Close stops the emulator, waits for its listener to shut down and reports
// whether it had stopped serving early.
func (s *Server) Close() error {
	_ = s.http.Close()
	<-s.closed
	s.fake.Stop()
	return s.err
}
