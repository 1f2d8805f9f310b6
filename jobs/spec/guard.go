package spec

import "fmt"

// A job spec is a few kilobytes of YAML written by a person. The YAML
// decoder's cost grows with the square of the nesting depth (8 KB of
// nested brackets took 63 MB), so Parse refuses what no spec needs before
// decoding: a file over maxSpecBytes, or flow collections ([…] {…})
// nested deeper than maxSpecDepth.
const (
	maxSpecBytes = 1 << 20
	maxSpecDepth = 64
)

// checkSize reports a spec too large or too deeply nested to decode safely.
// It tracks quotes and comments so that brackets inside strings do not
// count.
func checkSize(data []byte) error {
	if len(data) > maxSpecBytes {
		return fmt.Errorf("the spec is %d bytes; a job spec is at most %d (is this the right file?)", len(data), maxSpecBytes)
	}
	line, depth := 1, 0
	var quote byte
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '\n':
			line++
			if quote == '\'' || quote == '"' {
				continue // quoted scalars may span lines
			}
		case quote == '"' && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n'):
			for i < len(data) && data[i] != '\n' {
				i++
			}
			i--
		case c == '[' || c == '{':
			if depth++; depth > maxSpecDepth {
				return fmt.Errorf("line %d: lists and maps nested more than %d deep; a job spec needs a few levels", line, maxSpecDepth)
			}
		case c == ']' || c == '}':
			depth = max(depth-1, 0)
		}
	}
	return nil
}
