package spec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// tabError matches the YAML decoder's complaint about a tab where it wants
// spaces. Its own snippet prints the tab raw and, with the caret line, can
// split the next line in two (issue 26), so the message is rebuilt from
// the spec's own line.
var tabError = regexp.MustCompile("^\\[(\\d+):(\\d+)\\] found character '\t' that cannot start any token")

// visibleTab stands for a tab in the quoted line.
const visibleTab = "→"

// plainTabError rewrites a tab error as "line N: a tab where YAML wants
// spaces", the line with its tabs shown as →, and the fix; other errors
// pass unchanged.
func plainTabError(msg string, data []byte) string {
	m := tabError.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	n, _ := strconv.Atoi(m[1])
	lines := strings.Split(string(data), "\n")
	if n < 1 || n > len(lines) {
		return msg
	}
	line := strings.TrimRight(lines[n-1], "\r")
	return fmt.Sprintf("line %d: a tab (shown as %s) where YAML wants spaces; YAML indents with spaces only\n"+
		"  %d | %s\n"+
		"fix: indent with spaces instead of the tab, lining the key up with its siblings (the examples use two spaces per level)",
		n, visibleTab, n, strings.ReplaceAll(line, "\t", visibleTab))
}
