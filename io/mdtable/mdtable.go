// Package mdtable writes Markdown tables: the results table of training
// runs, a sweep's trials and the tables of evaluate's report.md. One writer,
// so every table escapes its cells and aligns its columns the same way.
package mdtable

import (
	"fmt"
	"strings"
)

// Col is one column: its header and whether its cells are numbers
// (aligned right).
type Col struct {
	Name  string
	Right bool
}

// L is a left-aligned column (text), R a right-aligned one (numbers).
func L(name string) Col { return Col{Name: name} }
func R(name string) Col { return Col{Name: name, Right: true} }

// Table is a Markdown table being built row by row.
type Table struct {
	cols []Col
	rows [][]string
}

// New starts a table with cols.
func New(cols ...Col) *Table { return &Table{cols: cols} }

// Add appends columns (for tables whose columns depend on the data).
func (t *Table) Add(cols ...Col) *Table {
	t.cols = append(t.cols, cols...)
	return t
}

// Row appends a row of cells, one per column.
func (t *Table) Row(cells ...string) {
	t.rows = append(t.rows, cells)
}

// Rowf appends a row of values formatted with one fmt verb per column:
// Rowf("%s %.4f %d", name, score, n).
func (t *Table) Rowf(verbs string, a ...any) {
	vs := strings.Fields(verbs)
	cells := make([]string, len(a))
	for i, v := range a {
		cells[i] = fmt.Sprintf(vs[i], v)
	}
	t.Row(cells...)
}

// String writes the table: header, alignment row and rows, each line
// ending in a newline. A cell's "|" is escaped and its whitespace runs
// become one space, so a cell never breaks the table.
func (t *Table) String() string {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + Cell(c) + " |")
		}
		b.WriteString("\n")
	}
	head, rule := make([]string, len(t.cols)), make([]string, len(t.cols))
	for i, c := range t.cols {
		head[i], rule[i] = c.Name, "---"
		if c.Right {
			rule[i] = "---:"
		}
	}
	line(head)
	b.WriteString("|")
	for _, r := range rule {
		b.WriteString(" " + r + " |")
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		line(r)
	}
	return b.String()
}

// Cell makes s safe inside a table cell.
func Cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
