package mdtable

import "testing"

func TestTable(t *testing.T) {
	for _, c := range []struct {
		name string
		tab  func() *Table
		want string
	}{
		{"aligned", func() *Table {
			tb := New(L("task"), R("F1"))
			tb.Row("ner", "0.9100")
			tb.Rowf("%s %.2f", "pos", 0.5)
			return tb
		}, "| task | F1 |\n| --- | ---: |\n| ner | 0.9100 |\n| pos | 0.50 |\n"},
		{"escaped", func() *Table {
			tb := New(L("error"))
			tb.Row("a | b\n  c")
			return tb
		}, "| error |\n| --- |\n| a \\| b c |\n"},
		{"added columns, no rows", func() *Table { return New(L("a")).Add(R("b"), R("c")) }, "| a | b | c |\n| --- | ---: | ---: |\n"},
	} {
		if got := c.tab().String(); got != c.want {
			t.Errorf("%s:\n%s\nwant\n%s", c.name, got, c.want)
		}
	}
}
