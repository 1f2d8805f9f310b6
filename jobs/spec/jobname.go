package spec

import "fmt"

// maxNameLen bounds a job name: it becomes a directory (out/<name>), a
// lock and registry key and a column in `taskweave runs`.
const maxNameLen = 64

// checkJobName refuses a name that is not a plain name. The default output
// is out/<name>, so `name: ../../../tmp/evil` wrote outside the output
// tree, and an empty name or one with a newline was accepted (issue 26).
func checkJobName(name string, bad func(key, format string, a ...any)) {
	if why := nameProblem(name, true); why != "" {
		bad("name", "%q %s", name, why)
	}
}

// nameProblem says why s is not a name made of letters, digits, - and _
// (and . when dots, never first), at most maxNameLen long; "" when it is.
func nameProblem(s string, dots bool) string {
	allowed := "letters, digits, - and _"
	if dots {
		allowed = "letters, digits, -, _ and . (not first)"
	}
	switch {
	case s == "":
		return "is empty; name the job with " + allowed
	case len(s) > maxNameLen:
		return fmt.Sprintf("is %d characters; a name has at most %d (%s)", len(s), maxNameLen, allowed)
	case s[0] == '.':
		return "starts with '.'; a name may not (it becomes a hidden or parent directory); use " + allowed
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || dots && c == '.'
		if !ok {
			return fmt.Sprintf("contains %q; a name is made of %s, because it becomes a directory name", c, allowed)
		}
	}
	return ""
}

// checkVocabTruncation: the truncation option loosens how model.init's
// checkpoint loads, so without init it would silently mean nothing.
func checkVocabTruncation(s *Spec, bad func(key, format string, a ...any)) {
	if s.Model.AllowVocabTruncation && s.Model.Init == "" {
		bad("model.allow_vocab_truncation", "applies to the model.init checkpoint, and model.init is not set; remove it or set model.init")
	}
}

// SetByFlag records that a command-line flag set key, so that a bad value
// is reported as the flag's, not at the spec line it overrode (`--lr NaN`
// was reported as `line 48: train.lr`).
func (s *Spec) SetByFlag(key, flag string) {
	if s.flags == nil {
		s.flags = map[string]string{}
	}
	s.flags[key] = flag
}
