package lock

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/taskweave/taskweave/io/storage"
)

// deadPID starts a process and reaps it, so its pid names no process.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestDeadHolderTakenOver (issue 26): a kill -9'd run's lease blocked new
// runs for its whole length although its pid was visibly dead. A live
// lease whose pid is dead on this host in this boot is taken over at once
// (TookOver names it); a live pid, another boot or another host keeps the
// lease until it expires, as before.
func TestDeadHolderTakenOver(t *testing.T) {
	if bootID() == "" {
		t.Skip("no boot id on this system: leases are never taken over early here")
	}
	host, _ := os.Hostname()
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	dead := deadPID(t)
	for _, c := range []struct {
		name     string
		lease    Lease
		takeOver bool
	}{
		{"dead pid, this host and boot", Lease{Host: host, PID: dead, BootID: bootID()}, true},
		{"live pid", Lease{Host: host, PID: sleeper.Process.Pid, BootID: bootID()}, false},
		{"dead pid, another boot", Lease{Host: host, PID: dead, BootID: "00000000-0000-0000-0000-000000000000"}, false},
		{"dead pid, no boot id (an older lease)", Lease{Host: host, PID: dead}, false},
		{"dead pid, another host", Lease{Host: host + "-elsewhere", PID: dead, BootID: bootID()}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			p := filepath.Join(t.TempDir(), "job.lock")
			c.lease.Owner, c.lease.Acquired, c.lease.Expires = "crashed", time.Now(), time.Now().Add(time.Hour)
			b, _ := json.Marshal(c.lease)
			if _, err := storage.WriteGen(ctx, p, b, 0); err != nil {
				t.Fatal(err)
			}
			l, err := TryAcquire(ctx, p, "next", time.Minute)
			var held *HeldError
			switch {
			case c.takeOver && err != nil:
				t.Fatalf("not taken over: %v", err)
			case c.takeOver:
				defer l.Release(ctx)
				if got := l.TookOver(); got == nil || got.Owner != "crashed" || got.PID != dead {
					t.Errorf("TookOver = %+v, want the crashed run's lease", got)
				}
				if cur, _, _ := Read(ctx, p); cur.Owner != "next" || cur.BootID != bootID() || cur.PID != os.Getpid() {
					t.Errorf("stored lease %+v", cur)
				}
			case !errors.As(err, &held) || held.Lease.Owner != "crashed":
				t.Fatalf("err = %v; want the lease held by the crashed run until it expires", err)
			}
		})
	}
}
