// Package wordpiece is BERT's tokenizer in pure Go: the basic tokenizer
// (text cleanup, CJK splitting, punctuation splitting, and lower-casing plus
// accent stripping for uncased vocabularies) followed by greedy
// longest-match-first WordPiece with "##" continuation pieces.
//
// The reference it reproduces token for token is Hugging Face tokenizers
// (the Rust library behind BertTokenizerFast, checked through its npm
// bindings, see tools/tokref) configured as BertWordPieceTokenizer:
// BertNormalizer{clean_text, handle_chinese_chars, strip_accents=lowercase,
// lowercase}, BertPreTokenizer, WordPiece{unk "[UNK]", "##", 100 chars}, and
// the five special tokens registered as never-split added tokens. Where that
// reference differs from Google's original tokenization.py, this package
// follows the reference; the differences are:
//   - special tokens ([CLS], [SEP], [UNK], [MASK], [PAD]) written in the text
//     stay one token wherever they occur, even glued to other text ("a[SEP]b");
//     Google's tokenizer splits them like any other text;
//   - unassigned code points (category Cn) are kept as text (and so usually
//     become [UNK]); Google's tokenizer deletes them as control characters;
//   - CJK Extension E starts at U+2B920 in the reference's ideograph ranges
//     (Google: U+2B820), so U+2B820..U+2B91F are not split out as single
//     characters;
//   - lower-casing is per character, so a word-final capital sigma becomes σ,
//     not Python's context-dependent ς; accents are stripped before
//     lower-casing rather than after;
//   - the reference's Unicode data mixes versions (old general categories,
//     newer case mappings), so about 600 recently assigned characters are
//     treated differently from what Go's tables (and Python's) say;
//     compat_tables.go lists them, generated from a sweep of every code
//     point through the reference (testdata/unicode_sweep.tsv.gz).
//
// A Tokenizer is safe for concurrent use.
package wordpiece

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// maxWordRunes is BERT's max_input_chars_per_word: longer words become [UNK].
const maxWordRunes = 100

// The never-split special tokens, in the order Hugging Face registers them.
var specialNames = [...]string{"[UNK]", "[SEP]", "[CLS]", "[PAD]", "[MASK]"}

// Tokenizer holds one vocabulary and its casing.
type Tokenizer struct {
	vocab     map[string]int32 // every vocabulary entry
	cont      map[string]int32 // "##x" entries keyed by "x", so lookups need no prefix concatenation
	tokens    []string         // id -> entry
	lowercase bool
	maxWhole  int // longest entry in bytes: no lookup is tried on a longer substring
	maxCont   int // longest continuation entry without "##"
	sum       string

	unk, sep, cls, pad, mask int32
	specials                 []special

	scratch sync.Pool
}

type special struct {
	text string
	id   int32
}

// buffers reused across calls; one set per concurrent caller.
type buffers struct {
	norm  []byte // the normalised segment
	clean []byte // uncased only: the segment before accent folding
	nfd   []byte
}

// LoadFile reads a vocab.txt (one entry per line, line number = id).
func LoadFile(path string, lowercase bool) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("wordpiece: %w", err)
	}
	defer f.Close()
	t, err := Load(f, lowercase)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Load reads a vocabulary in vocab.txt form. lowercase selects the uncased
// behaviour (lower-casing and accent stripping); it must match how the
// vocabulary was built (bert-base-uncased: true, bert-base-cased: false).
func Load(r io.Reader, lowercase bool) (*Tokenizer, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("wordpiece: reading vocabulary: %w", err)
	}
	sum := sha256.Sum256(data)
	t := &Tokenizer{
		vocab:     make(map[string]int32, bytes.Count(data, []byte{'\n'})+1),
		cont:      make(map[string]int32),
		lowercase: lowercase,
		sum:       hex.EncodeToString(sum[:]),
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1024), 1<<20)
	for sc.Scan() {
		// Both references trim trailing whitespace (\r included) from entries.
		tok := strings.TrimRightFunc(sc.Text(), unicode.IsSpace)
		id := int32(len(t.tokens))
		t.tokens = append(t.tokens, tok)
		// A repeated entry maps to its last id, as in both references.
		t.vocab[tok] = id
		t.maxWhole = max(t.maxWhole, len(tok))
		if rest, ok := strings.CutPrefix(tok, "##"); ok {
			t.cont[rest] = id
			t.maxCont = max(t.maxCont, len(rest))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("wordpiece: line %d: %w", len(t.tokens)+1, err)
	}
	if len(t.tokens) == 0 {
		return nil, fmt.Errorf("wordpiece: empty vocabulary; give a BERT vocab.txt with one entry per line")
	}
	ids := map[string]*int32{"[UNK]": &t.unk, "[SEP]": &t.sep, "[CLS]": &t.cls, "[PAD]": &t.pad, "[MASK]": &t.mask}
	for _, name := range specialNames {
		id, ok := t.vocab[name]
		if !ok {
			return nil, fmt.Errorf("wordpiece: vocabulary has no %s entry; a BERT vocab.txt must list [PAD], [UNK], [CLS], [SEP] and [MASK]", name)
		}
		*ids[name] = id
		t.specials = append(t.specials, special{name, id})
	}
	t.scratch.New = func() any {
		return &buffers{norm: make([]byte, 0, 256), clean: make([]byte, 0, 256), nfd: make([]byte, 0, 256)}
	}
	return t, nil
}

// Size is the number of vocabulary entries (ids are 0..Size()-1).
func (t *Tokenizer) Size() int { return len(t.tokens) }

// SHA256 is the hex sha256 of the vocabulary file's bytes.
func (t *Tokenizer) SHA256() string { return t.sum }

// Lowercase reports whether the tokenizer is uncased.
func (t *Tokenizer) Lowercase() bool { return t.lowercase }

// Vocab returns a copy of the entries in id order (for checkpoints' vocab.txt).
func (t *Tokenizer) Vocab() []string { return append([]string(nil), t.tokens...) }

// ID looks up an entry.
func (t *Tokenizer) ID(tok string) (int32, bool) {
	id, ok := t.vocab[tok]
	return id, ok
}

// Token is the entry for id, or "" when id is out of range.
func (t *Tokenizer) Token(id int32) string {
	if id < 0 || int(id) >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// Decode maps ids back to entries (Token for each id).
func (t *Tokenizer) Decode(ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = t.Token(id)
	}
	return out
}

// Special token ids.
func (t *Tokenizer) CLS() int32  { return t.cls }
func (t *Tokenizer) SEP() int32  { return t.sep }
func (t *Tokenizer) PAD() int32  { return t.pad }
func (t *Tokenizer) UNK() int32  { return t.unk }
func (t *Tokenizer) MASK() int32 { return t.mask }

// Tokenize returns the WordPiece entries for text, without [CLS]/[SEP].
func (t *Tokenizer) Tokenize(text string) []string {
	return t.Decode(t.Encode(text))
}

// Encode returns the ids for text, without [CLS]/[SEP].
func (t *Tokenizer) Encode(text string) []int32 {
	return t.AppendEncode(nil, text)
}

// AppendEncode appends the ids for text to dst and returns the extended slice.
func (t *Tokenizer) AppendEncode(dst []int32, text string) []int32 {
	b := t.scratch.Get().(*buffers)
	for len(text) > 0 {
		i, sp := t.nextSpecial(text)
		if i < 0 {
			dst = t.appendSegment(dst, text, b)
			break
		}
		dst = t.appendSegment(dst, text[:i], b)
		dst = append(dst, sp.id)
		text = text[i+len(sp.text):]
	}
	t.scratch.Put(b)
	return dst
}

// TokenizeWord tokenizes one pre-split word (token tasks). A word can yield
// several pieces (subwords, split punctuation) or none (only control
// characters); callers decide what an empty word means.
func (t *Tokenizer) TokenizeWord(word string) []string { return t.Tokenize(word) }

// EncodeWords encodes each pre-split word on its own, as Hugging Face does
// with is_split_into_words. The per-word slices share one backing array.
func (t *Tokenizer) EncodeWords(words []string) [][]int32 {
	flat := make([]int32, 0, 2*len(words))
	ends := make([]int, len(words))
	for i, w := range words {
		flat = t.AppendEncode(flat, w)
		ends[i] = len(flat)
	}
	out := make([][]int32, len(words))
	start := 0
	for i, end := range ends {
		out[i] = flat[start:end:end]
		start = end
	}
	return out
}

// nextSpecial finds the leftmost (then longest) special token in the raw
// text. Special tokens are matched before any normalisation, like Hugging
// Face's non-normalized added tokens, so "[cls]" is not special.
func (t *Tokenizer) nextSpecial(text string) (int, special) {
	off := 0
	for {
		i := strings.IndexByte(text[off:], '[')
		if i < 0 {
			return -1, special{}
		}
		at := off + i
		best := -1
		for k, sp := range t.specials {
			if strings.HasPrefix(text[at:], sp.text) && (best < 0 || len(sp.text) > len(t.specials[best].text)) {
				best = k
			}
		}
		if best >= 0 {
			return at, t.specials[best]
		}
		off = at + 1
	}
}

// Byte classes for the ASCII fast path.
const (
	cWord  = iota // part of a word
	cSpace        // whitespace: separates words
	cDrop         // control character: deleted
	cPunct        // punctuation: a word of its own
)

var asciiClass = func() (c [utf8.RuneSelf]uint8) {
	for b := range c {
		switch {
		case b == 0 || b < 0x20 && b != '\t' && b != '\n' && b != '\r' || b == 0x7f:
			c[b] = cDrop
		case b == ' ' || b == '\t' || b == '\n' || b == '\r':
			c[b] = cSpace
		case b >= 33 && b <= 47 || b >= 58 && b <= 64 || b >= 91 && b <= 96 || b >= 123 && b <= 126:
			c[b] = cPunct
		}
	}
	return
}()

// appendSegment runs the basic tokenizer and WordPiece on text that holds
// no special token.
func (t *Tokenizer) appendSegment(dst []int32, text string, b *buffers) []int32 {
	b.norm = t.normalize(b.norm[:0], text, b)
	forEachWord(b.norm, func(w []byte) { dst = t.appendWord(dst, w) })
	return dst
}

// forEachWord is BertPreTokenizer: it splits normalised text on whitespace
// and makes every punctuation character (ASCII punctuation or Unicode P*)
// a word of its own.
func forEachWord(nb []byte, fn func(w []byte)) {
	start := -1 // start of the current word, -1 between words
	for i := 0; i < len(nb); {
		c := nb[i]
		var cls uint8
		size := 1
		if c < utf8.RuneSelf {
			cls = asciiClass[c]
		} else {
			var r rune
			r, size = utf8.DecodeRune(nb[i:])
			switch {
			case unicode.IsSpace(r):
				cls = cSpace
			case isPunct(r):
				cls = cPunct
			}
		}
		if cls == cWord {
			if start < 0 {
				start = i
			}
		} else {
			if start >= 0 {
				fn(nb[start:i])
				start = -1
			}
			if cls == cPunct {
				fn(nb[i : i+size])
			}
		}
		i += size
	}
	if start >= 0 {
		fn(nb[start:])
	}
}

// normalize appends the BertNormalizer form of text to dst: control
// characters, NUL and U+FFFD (which is also what invalid UTF-8 decodes to)
// deleted, whitespace turned into ' ', CJK ideographs padded with spaces,
// and for uncased vocabularies NFD with non-spacing marks dropped, then
// lower-cased.
func (t *Tokenizer) normalize(dst []byte, text string, b *buffers) []byte {
	ascii := true
	for i := 0; i < len(text); i++ {
		if text[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		for i := 0; i < len(text); i++ {
			c := text[i]
			switch asciiClass[c] {
			case cDrop:
				continue
			case cSpace:
				c = ' '
			case cWord:
				if t.lowercase && c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
			}
			dst = append(dst, c)
		}
		return dst
	}
	// Uncased: the cleaned text goes to b.clean first, then through NFD,
	// mark stripping and lower-casing into dst. Characters the reference
	// treats differently from Go's Unicode tables are written straight to
	// dst with the reference's result, splitting the NFD input around them.
	clean := dst
	if t.lowercase {
		clean = b.clean[:0]
	}
	for _, r := range text {
		switch {
		case r < utf8.RuneSelf:
			switch asciiClass[r] {
			case cDrop:
				continue
			case cSpace:
				r = ' '
			}
			clean = append(clean, byte(r))
		case r == utf8.RuneError || isControl(r):
			// deleted
		case unicode.IsSpace(r):
			clean = append(clean, ' ')
		case isCJK(r):
			clean = append(clean, ' ')
			clean = utf8.AppendRune(clean, r)
			clean = append(clean, ' ')
		default:
			if t.lowercase {
				if out, ok := uncasedCompat[r]; ok {
					dst = t.foldAccents(dst, clean, b)
					dst = append(dst, out...)
					clean = clean[:0]
					continue
				}
			}
			clean = utf8.AppendRune(clean, r)
		}
	}
	if !t.lowercase {
		return clean
	}
	b.clean = clean
	return t.foldAccents(dst, clean, b)
}

// foldAccents appends NFD(src) without non-spacing marks, lower-cased.
func (t *Tokenizer) foldAccents(dst, src []byte, b *buffers) []byte {
	if len(src) == 0 {
		return dst
	}
	b.nfd = norm.NFD.Append(b.nfd[:0], src...)
	for _, r := range string(b.nfd) {
		if r < utf8.RuneSelf {
			if r >= 'A' && r <= 'Z' {
				r += 'a' - 'A'
			}
			dst = append(dst, byte(r))
			continue
		}
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst
}

// appendWord appends the greedy longest-match-first pieces of one word, or
// [UNK] when the word is too long or some part of it matches nothing.
func (t *Tokenizer) appendWord(dst []int32, w []byte) []int32 {
	if len(w) > maxWordRunes && utf8.RuneCount(w) > maxWordRunes {
		return append(dst, t.unk)
	}
	mark := len(dst)
	for start := 0; start < len(w); {
		m, limit := t.vocab, t.maxWhole
		if start > 0 {
			m, limit = t.cont, t.maxCont
		}
		end := len(w)
		if end-start > limit {
			end = start + limit
			for end > start && !utf8.RuneStart(w[end]) {
				end--
			}
		}
		found := false
		for end > start {
			// string(w[a:b]) in a map index does not allocate.
			if id, ok := m[string(w[start:end])]; ok {
				dst = append(dst, id)
				found = true
				break
			}
			end--
			for end > start && !utf8.RuneStart(w[end]) {
				end--
			}
		}
		if !found {
			return append(dst[:mark], t.unk)
		}
		start = end
	}
	return dst
}
