package corpus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// jsonlReader reads one JSON object per line: {"text": …, "label": …} for
// sentence tasks, {"tokens": […], "tags": […]} for token tasks (TokenLevel),
// keys configurable. Labels and tags may be strings or numbers. A number is
// canonicalised to the shortest spelling of its float64 value, so 1, 1.0 and
// 1e0 are one class "1" and a regression target keeps its exact value; a
// number outside float64's range (1e400) is rejected. A string is kept as
// written ("1.0" in quotes is its own class). A line where any key appears
// twice is rejected: which value counts would depend on the JSON reader.
type jsonlReader struct {
	r *Reader
}

func (j *jsonlReader) next() (Record, *Rejection, error) {
	r := j.r
	l, rej, err := r.nextRecordLine()
	if rej != nil || err != nil {
		return Record{}, rej, err
	}
	rec, why := j.parse(l.text)
	if why != "" {
		return Record{}, r.reject(l.line, l.text, l.size, "%s", why), nil
	}
	rec.File, rec.Line = r.file, l.line
	if rec.ID == "" {
		rec.ID = l.id
	} else {
		rec.ID = r.ownID(rec.ID)
	}
	return rec, nil, nil
}

func (j *jsonlReader) parse(line []byte) (Record, string) {
	o := j.r.opt
	var rec Record
	obj, why := decodeObject(line)
	if why != "" {
		return rec, why
	}
	if o.IDColumn != "" {
		if rec.ID, why = obj.id(o.IDColumn); why != "" {
			return rec, why
		}
	}
	if o.TokenLevel {
		return j.parseTokens(obj, rec)
	}
	return parseSentence(o, obj, rec)
}

// jsonObject is one line's object, its values still raw.
type jsonObject map[string]json.RawMessage

// decodeObject checks a line's bytes and decodes it as one JSON object
// without repeated keys.
func decodeObject(line []byte) (jsonObject, string) {
	// encoding/json would quietly turn bad bytes into U+FFFD.
	if msg := checkText(line); msg != "" {
		return nil, msg
	}
	if t := bytes.TrimLeft(line, " \t"); len(t) == 0 || t[0] != '{' {
		return nil, "line is not a JSON object (it must start with '{'); write one object per line"
	}
	var obj jsonObject
	if err := json.Unmarshal(line, &obj); err != nil {
		return nil, jsonProblem(err, len(line))
	}
	if k, ok := duplicateKey(line); ok {
		return nil, fmt.Sprintf("key %q appears twice in one object; which value counts would depend on the JSON reader, so remove one of them", k)
	}
	return obj, ""
}

// keys lists the object's keys for messages.
func (obj jsonObject) keys() string {
	var ks []string
	for k := range obj {
		ks = append(ks, fmt.Sprintf("%q", k))
	}
	if len(ks) == 0 {
		return "none"
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
}

// lookup returns the first of names with a non-null value.
func (obj jsonObject) lookup(names ...string) (string, json.RawMessage) {
	for _, n := range names {
		if v, ok := obj[n]; ok && string(v) != "null" {
			return n, v
		}
	}
	return "", nil
}

// missing explains an absent key; key is the name's key in the job spec's
// tasks[].columns.
func (obj jsonObject) missing(key string, names ...string) string {
	return fmt.Sprintf("no %s key with a value (keys found: %s); add it, or name the right key in the job spec's tasks[].columns.%s", quoteAll(names), obj.keys(), key)
}

// id reads the record's own id.
func (obj jsonObject) id(column string) (string, string) {
	k, v := obj.lookup(column)
	if k == "" {
		return "", obj.missing("id", column)
	}
	s, ok := scalar(v)
	if !ok || s == "" {
		return "", fmt.Sprintf("id key %q must be a non-empty string or number, found %s", k, v)
	}
	return s, ""
}

// parseTokens reads a token example: words and, unless unlabeled, one tag each.
func (j *jsonlReader) parseTokens(obj jsonObject, rec Record) (Record, string) {
	o := j.r.opt
	k, v := obj.lookup(o.WordsKey)
	if k == "" {
		return rec, obj.missing("tokens", o.WordsKey)
	}
	words, why := stringList(k, v, false)
	if why != "" {
		return rec, why
	}
	if len(words) == 0 {
		return rec, fmt.Sprintf("key %q is an empty list; a token example needs at least one word", k)
	}
	for i, w := range words {
		if strings.TrimSpace(w) == "" {
			return rec, fmt.Sprintf("word %d of %q is empty or whitespace; remove it together with its tag", i+1, k)
		}
	}
	rec.Words = words
	if o.Unlabeled {
		return rec, ""
	}
	k, v = obj.lookup(o.TagsKey)
	if k == "" {
		return rec, obj.missing("tags", o.TagsKey)
	}
	tags, why := stringList(k, v, true)
	if why != "" {
		return rec, why
	}
	if len(tags) != len(words) {
		return rec, fmt.Sprintf("%d words but %d tags; every word needs exactly one tag", len(words), len(tags))
	}
	i, why, loose := checkTags(o.TagScheme, tags)
	if i >= 0 {
		return rec, fmt.Sprintf("word %d (%q): %s", i+1, words[i], why)
	}
	j.r.stats.LooseIOB2 += loose
	rec.Tags, rec.LooseIOB2 = tags, loose
	return rec, ""
}

// parseSentence reads a sentence example: text, an optional second text
// and, unless unlabeled, the label.
func parseSentence(o Options, obj jsonObject, rec Record) (Record, string) {
	k, v := obj.lookup(o.TextColumns...)
	if k == "" {
		return rec, obj.missing("text", o.TextColumns...)
	}
	var err error
	if rec.Text, err = textValue(k, v); err != nil {
		return rec, err.Error()
	}
	if o.TextBColumn != "" {
		k, v := obj.lookup(o.TextBColumn)
		if k == "" {
			return rec, obj.missing("text_b", o.TextBColumn)
		}
		if rec.TextB, err = textValue(k, v); err != nil {
			return rec, err.Error()
		}
	}
	if o.Unlabeled {
		return rec, ""
	}
	k, v = obj.lookup(o.LabelColumn)
	if k == "" {
		return rec, obj.missing("label", o.LabelColumn)
	}
	label, ok := scalar(v)
	if !ok {
		return rec, fmt.Sprintf("label key %q must be a string or a number, found %s", k, clip(v))
	}
	var why string
	if rec.Label, why = canonicalLabel(fmt.Sprintf("label key %q", k), v, label); why != "" {
		return rec, why
	}
	if strings.TrimSpace(rec.Label) == "" {
		return rec, fmt.Sprintf("label key %q is empty; give the label, or read the file as unlabeled", k)
	}
	return rec, ""
}

func textValue(k string, v json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("key %q must be a string, found %s", k, clip(v))
	}
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("key %q is empty; every example needs text", k)
	}
	return s, nil
}

// scalar reads a JSON string or number as text.
func scalar(v json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, true
	}
	var n json.Number
	if len(v) > 0 && v[0] != '"' && json.Unmarshal(v, &n) == nil {
		return n.String(), true
	}
	return "", false
}

func stringList(k string, v json.RawMessage, numbersOK bool) ([]string, string) {
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, fmt.Sprintf("key %q must be a list, found %s", k, clip(v))
	}
	out := make([]string, len(items))
	for i, it := range items {
		s, ok := scalar(it)
		if !ok || (!numbersOK && it[0] != '"') {
			want := "a string"
			if numbersOK {
				want = "a string or a number"
			}
			return nil, fmt.Sprintf("item %d of %q must be %s, found %s", i+1, k, want, clip(it))
		}
		if numbersOK {
			var why string
			if s, why = canonicalLabel(fmt.Sprintf("item %d of %q", i+1, k), it, s); why != "" {
				return nil, why
			}
		}
		out[i] = s
	}
	return out, ""
}

// canonicalLabel returns a numeric label's canonical spelling (the
// shortest that parses back to the same float64, "-0" as "0"), or why it
// cannot be one; string labels (v starts with a quote) pass unchanged. what
// names the value in the message.
func canonicalLabel(what string, v json.RawMessage, s string) (string, string) {
	if len(v) == 0 || v[0] == '"' {
		return s, ""
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", fmt.Sprintf("%s is the number %s, outside the float64 range; write the label as a string, or fix the value", what, clip(v))
	}
	if f == 0 {
		f = 0 // -0 and 0 are one class
	}
	return strconv.FormatFloat(f, 'g', -1, 64), ""
}

// duplicateKey reports the first key that appears twice in one object of
// line (at any depth). encoding/json keeps the last value silently.
func duplicateKey(line []byte) (string, bool) {
	type frame struct {
		keys    map[string]bool // nil for an array
		wantKey bool
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(line))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
			} else {
				k, _ := tok.(string)
				if stack[n-1].keys[k] {
					return k, true
				}
				stack[n-1].keys[k], stack[n-1].wantKey = true, false
				continue
			}
		} else {
			switch tok {
			case json.Delim('{'):
				stack = append(stack, frame{keys: map[string]bool{}, wantKey: true})
				continue
			case json.Delim('['):
				stack = append(stack, frame{})
				continue
			case json.Delim(']'):
				stack = stack[:len(stack)-1]
			}
		}
		// A value is complete: its object wants the next key.
		if n := len(stack); n == 0 {
			return "", false
		} else if stack[n-1].keys != nil {
			stack[n-1].wantKey = true
		}
	}
}

func clip(v json.RawMessage) string {
	if len(v) > 40 {
		return string(v[:40]) + "…"
	}
	return string(v)
}

func jsonProblem(err error, n int) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn) && syn.Offset >= int64(n) && strings.Contains(syn.Error(), "end of JSON input"):
		return fmt.Sprintf("the JSON object is cut off after %d bytes (unexpected end of line); the line or the file is truncated, re-export it", n)
	case errors.As(err, &syn) && strings.Contains(syn.Error(), "after top-level value"):
		return fmt.Sprintf("extra characters after the JSON object, at byte %d (%v); put one object on each line and nothing else", syn.Offset, syn)
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %v; fix the line so it is one valid JSON object", syn.Offset, syn)
	case errors.As(err, &typ):
		return fmt.Sprintf("line is not a JSON object of keys (%v); write one object per line", err)
	}
	return fmt.Sprintf("malformed JSON: %v; fix the line so it is one valid JSON object", err)
}
