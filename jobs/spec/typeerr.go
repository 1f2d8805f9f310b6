package spec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// goTypeError matches the YAML decoder's type mismatch, which speaks Go:
// "[4:15] cannot unmarshal []interface {} into Go struct field Spec.Train
// of type int" (issue 26). The struct field it names is the enclosing
// block, not the key, so the key is found from the line.
var goTypeError = regexp.MustCompile(`^\[(\d+):\d+\] cannot unmarshal (.+?) into Go struct field \S+ of type (\S+)`)

// plainTypeError rewrites the first line of a decoder error into the
// spec's own words ("line 4: train.batch_size: want a whole number, found
// a list"), keeping the snippet below it; other errors pass unchanged.
func plainTypeError(msg string, data []byte) string {
	first, rest, _ := strings.Cut(msg, "\n")
	m := goTypeError.FindStringSubmatch(first)
	if m == nil {
		return msg
	}
	line, _ := strconv.Atoi(m[1])
	key := "a key"
	for k, l := range keyLines(data) {
		// The deepest key on the line, not a list element of its value.
		if l == line && !strings.HasSuffix(k, "]") && (key == "a key" || len(k) > len(key)) {
			key = k
		}
	}
	out := fmt.Sprintf("line %d: %s: want %s, found %s", line, key, kindOf(m[3]), kindOf(m[2]))
	if rest != "" {
		out += "\n" + rest
	}
	return out
}

// kindOf names a Go type the way the YAML reads.
func kindOf(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "spec."):
		return "a map of keys"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	}
	return goType
}
