package corpus

import (
	"fmt"
	"strings"
)

// checkTags validates a tag sequence against an IOB scheme. It returns the
// index of the first malformed tag and why (or -1), and how many I-X tags
// start a chunk (follow O or another type).
//
// Under iob2 such an I-X is annotation noise rather than a malformed tag:
// WNUT17's dev file has one ("Lil/B-person Sly-/I-person Turn/I-creative-work").
// conlleval, which scores both schemes, reads it as the start of a chunk, so
// the record is kept and the count goes to Stats.LooseIOB2 for the report.
// Under iob1 an I-X starting a chunk is the norm and is not counted.
func checkTags(scheme string, tags []string) (bad int, why string, loose int) {
	scheme = strings.ToLower(scheme)
	if scheme != "iob1" && scheme != "iob2" {
		return -1, "", 0
	}
	prev := "O"
	for i, t := range tags {
		if t == "O" {
			prev = t
			continue
		}
		prefix, typ, ok := strings.Cut(t, "-")
		if !ok || (prefix != "B" && prefix != "I") || typ == "" {
			return i, fmt.Sprintf("tag %q is not O, B-<type> or I-<type> as %s requires; fix the tag or set the task's tag scheme to none", t, scheme), loose
		}
		if scheme == "iob2" && prefix == "I" {
			if _, prevTyp, _ := strings.Cut(prev, "-"); prev == "O" || prevTyp != typ {
				loose++
			}
		}
		prev = t
	}
	return -1, "", loose
}
