package spec

import (
	"strings"
	"testing"
)

// TestTabIndentation: a tab in the indentation was reported with the
// decoder's snippet, which printed the tab raw and split the next line in
// two ("4 |     kind" / "^" / "4 | : classification", issue 26). The
// message now names the line, quotes it once with the tab shown, and says
// the fix.
func TestTabIndentation(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"tab before a list item", "name: x\ntasks:\n\t- name: sst2\n    kind: classification\n",
			"line 3: a tab (shown as →) where YAML wants spaces; YAML indents with spaces only\n  3 | →- name: sst2\nfix: "},
		{"tab after spaces", "name: x\ntasks:\n  - name: sst2\n  \tkind: classification\n",
			"line 4: a tab (shown as →) where YAML wants spaces; YAML indents with spaces only\n  4 |   →kind: classification\nfix: "},
		{"tab-indented key", minimal + "train:\n\tsteps: 3\n",
			"line 13: a tab (shown as →) where YAML wants spaces; YAML indents with spaces only\n  13 | →steps: 3\nfix: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), "/jobs")
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant it to start %q", err, c.want)
			}
			if n := strings.Count(err.Error(), "\n"); n != 2 || strings.Contains(err.Error(), "\t") {
				t.Errorf("want three lines and no raw tab, got:\n%s", err)
			}
		})
	}
}
