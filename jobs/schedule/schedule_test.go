package schedule

import (
	"strings"
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	start := time.Date(2026, 11, 29, 2, 30, 0, 0, time.UTC)
	got, err := Next("0 3 * * *", start, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Fatalf("Next[%d] = %s, want %s", i, got[i], want[i])
		}
	}
}

func TestParseError(t *testing.T) {
	_, err := Parse("0 3 * *")
	if err == nil || !strings.Contains(err.Error(), "five fields") {
		t.Fatalf("bad expression accepted or unclear error: %v", err)
	}
}
