package wordpiece

import (
	"unicode"
)

// isControl is the reference's control test: categories Cc, Cf, Co and Cs
// except tab, newline and carriage return (which are whitespace). Unlike
// Google's tokenizer it does not include unassigned code points.
func isControl(r rune) bool {
	if del, ok := controlCompat[r]; ok {
		return del
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// isPunct is Unicode category P as the reference sees it (ASCII
// punctuation is handled by asciiClass).
func isPunct(r rune) bool {
	if p, ok := punctCompat[r]; ok {
		return p
	}
	return unicode.IsPunct(r)
}

// isCJK reports CJK Unified Ideographs (and extensions and compatibility
// blocks) in the ranges the reference uses; Hangul, kana and CJK
// punctuation are not included, as in BERT.
func isCJK(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF ||
		r >= 0x3400 && r <= 0x4DBF ||
		r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F ||
		r >= 0x2B740 && r <= 0x2B81F ||
		r >= 0x2B920 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF ||
		r >= 0x2F800 && r <= 0x2FA1F
}
