// Command pkgmap regenerates the package map of docs/architecture.md from
// the imports of the module's Go files (run from the module root:
// `go run ./tools/pkgmap`), and refuses to when an import breaks the
// layering cmd → jobs → pipelines → trainer → transforms → io → model.
// Its tests fail when the page is stale, when the layering is broken and
// when a function outside tests is longer than 80 lines.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if err := run("."); err != nil {
		fmt.Fprintln(os.Stderr, "pkgmap:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	ps, err := readGraph(root)
	if err != nil {
		return err
	}
	if v := violations(ps); len(v) > 0 {
		return fmt.Errorf("the layering is broken:\n  %s", strings.Join(v, "\n  "))
	}
	doc, err := readDoc(root)
	if err != nil {
		return err
	}
	out, err := splice(doc, render(ps))
	if err != nil {
		return fmt.Errorf("docs/architecture.md: %w", err)
	}
	return os.WriteFile(filepath.Join(root, "docs", "architecture.md"), []byte(out), 0o644)
}
