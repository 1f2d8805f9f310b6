package spec

import (
	"fmt"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// keyLines maps dotted key paths ("train.strategy.name", "tasks[1].type") to
// the line where the key stands, so validation errors can point at it.
func keyLines(data []byte) map[string]int {
	out := map[string]int{}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return out
	}
	var walk func(n ast.Node, prefix string)
	walk = func(n ast.Node, prefix string) {
		switch v := n.(type) {
		case *ast.DocumentNode:
			walk(v.Body, prefix)
		case *ast.MappingNode:
			for _, mv := range v.Values {
				walk(mv, prefix)
			}
		case *ast.MappingValueNode:
			key := v.Key.String()
			if prefix != "" {
				key = prefix + "." + key
			}
			out[key] = v.Key.GetToken().Position.Line
			walk(v.Value, key)
		case *ast.SequenceNode:
			for i, e := range v.Values {
				k := fmt.Sprintf("%s[%d]", prefix, i)
				if e != nil && e.GetToken() != nil {
					out[k] = e.GetToken().Position.Line
				}
				walk(e, k)
			}
		}
	}
	for _, d := range f.Docs {
		walk(d, "")
	}
	return out
}
