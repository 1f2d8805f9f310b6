package lock

import (
	"os"
	"strings"
)

// bootIDPath holds the kernel's random id of the current boot (Linux).
// A pid means the same process only within one boot of one host: after a
// reboot the number is reused, and another host's pids are not ours to
// test. Tests point it elsewhere.
var bootIDPath = "/proc/sys/kernel/random/boot_id"

// bootID is this machine's boot id, or "" where there is none to read (a
// lease written then is never taken over early).
func bootID() string {
	b, err := os.ReadFile(bootIDPath)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// HolderGone reports whether the lease's holder is provably dead: the
// lease was written on this host (same host name) in this boot (same boot
// id), and its pid names no process. A kill -9'd run then stops blocking
// the job at once instead of for the rest of its lease. Anything less
// certain — another host, another boot, no boot id, a pid that exists
// (even reused by an unrelated process) — is not gone: the lease stands
// until it expires, as before.
func (l Lease) HolderGone() bool {
	host, _ := os.Hostname()
	boot := bootID()
	return l.PID > 0 && boot != "" && l.BootID == boot && host != "" && l.Host == host && !pidAlive(l.PID)
}
