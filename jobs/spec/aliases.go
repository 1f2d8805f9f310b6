package spec

import (
	"fmt"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// maxAliasNodes bounds what YAML aliases may expand to in one spec. The
// decoder copies an anchor's value at every alias, so nine anchors each
// naming the previous one nine times (the "billion laughs") expand 1 KB of
// YAML to 9^9 values: validate grew to 4.6 GB before it was killed. A job
// spec that reuses a block with an alias expands to tens of values; ten
// thousand leaves room and costs a few MB at most.
const maxAliasNodes = 10_000

// checkAliases counts the values every alias in data stands for, on the
// parsed tree where an alias is still one node, and refuses the spec when
// the total passes maxAliasNodes. It runs before decoding, which is where
// the expansion would happen. A syntax error is left to the decoder, whose
// message is better.
func checkAliases(data []byte) error {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil
	}
	c := aliasCounter{anchors: map[string]int{}}
	for _, d := range f.Docs {
		c.size(d)
		if c.err != nil {
			return c.err
		}
	}
	return nil
}

// aliasCounter walks the tree in document order, so an alias sees the
// anchor defined before it, as the decoder does.
type aliasCounter struct {
	anchors  map[string]int // anchor name → values its node expands to
	expanded int            // values all aliases so far expand to
	err      error
}

// size returns how many values n expands to, aliases resolved.
func (c *aliasCounter) size(n ast.Node) int {
	if n == nil || c.err != nil {
		return 0
	}
	switch v := n.(type) {
	case *ast.DocumentNode:
		return c.size(v.Body)
	case *ast.MappingNode:
		total := 1
		for _, mv := range v.Values {
			total += c.size(mv)
		}
		return total
	case *ast.MappingValueNode:
		return c.size(v.Key) + c.size(v.Value)
	case *ast.MappingKeyNode:
		return c.size(v.Value)
	case *ast.SequenceNode:
		total := 1
		for _, e := range v.Values {
			total += c.size(e)
		}
		return total
	case *ast.TagNode:
		return c.size(v.Value)
	case *ast.AnchorNode:
		s := c.size(v.Value)
		c.anchors[v.Name.String()] = s
		return s
	case *ast.AliasNode:
		return c.alias(v)
	}
	return 1
}

// alias adds what one alias expands to and reports when the total passes
// the bound.
func (c *aliasCounter) alias(v *ast.AliasNode) int {
	name := v.Value.String()
	s := c.anchors[name] // an unknown anchor is the decoder's error to report
	c.expanded += s
	if c.expanded > maxAliasNodes {
		c.err = fmt.Errorf("line %d: the alias *%s takes the YAML aliases of this spec past %d values in all; a job spec reuses a block a few times, not this (nested anchors expanding exponentially, a \"billion laughs\"?): write the values out or reuse fewer",
			v.GetToken().Position.Line, name, maxAliasNodes)
	}
	return s
}
