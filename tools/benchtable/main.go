// Command benchtable prints the ratio table of `make bench` (scripts/bench.sh)
// from the model benchmarks' output and torch_bench.py's JSON lines, both
// prefixed with "round=N ".
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// figures are one size's measurements over the rounds.
type figures struct {
	goTrain, goFwd, torchTrain, torchFwd []float64
	trainGF, fwdGF, peak                 []float64
	trainOf, fwdOf                       []float64
}

func main() {
	header := flag.String("header", "", "file printed above the table")
	goOut := flag.String("go", "", "benchmark output of the model package")
	torchOut := flag.String("torch", "", "torch_bench.py --json lines")
	flag.Parse()
	if err := run(os.Stdout, *header, *goOut, *torchOut); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, header, goOut, torchOut string) error {
	by := map[string]*figures{}
	var order []string
	get := func(size string) *figures {
		if by[size] == nil {
			by[size] = &figures{}
			order = append(order, size)
		}
		return by[size]
	}
	if err := eachLine(goOut, func(line string) error { return parseGo(line, get) }); err != nil {
		return err
	}
	if err := eachLine(torchOut, func(line string) error { return parseTorch(line, get) }); err != nil {
		return err
	}
	if header != "" {
		b, err := os.ReadFile(header)
		if err != nil {
			return err
		}
		fmt.Fprint(w, string(b))
	}
	fmt.Fprintln(w, "\ntokens/s per round (a Go training iteration is two optimizer steps, one per task, and counts both batches);")
	fmt.Fprintln(w, "ratio = mean Go / mean PyTorch; GFLOP/s counts the encoder's products (train = 3 x forward), peak = gemm's best on base's shapes in the same process")
	fmt.Fprintln(w, "\n| size | Go train | PyTorch train | ratio | Go forward | PyTorch forward | ratio | Go train GFLOP/s (of peak) | Go forward GFLOP/s (of peak) | SGEMM peak |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, s := range order {
		f := by[s]
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s (%s) | %s (%s) | %s |\n", s,
			list(f.goTrain, "%.0f"), list(f.torchTrain, "%.0f"), ratio(f.goTrain, f.torchTrain),
			list(f.goFwd, "%.0f"), list(f.torchFwd, "%.0f"), ratio(f.goFwd, f.torchFwd),
			list(f.trainGF, "%.1f"), list(pct(f.trainOf), "%.0f%%"), list(f.fwdGF, "%.1f"), list(pct(f.fwdOf), "%.0f%%"), list(f.peak, "%.0f"))
	}
	return nil
}

func eachLine(path string, fn func(string) error) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if err := fn(sc.Text()); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return sc.Err()
}

// parseGo reads "round=1 BenchmarkTrainMini-2  3  1 ns/op  5.1 GFLOP/s  0.3 of_sgemm_peak  6000 tokens/s".
func parseGo(line string, get func(string) *figures) error {
	fs := strings.Fields(line)
	if len(fs) < 3 || !strings.HasPrefix(fs[1], "Benchmark") {
		return nil
	}
	name := strings.TrimPrefix(fs[1], "Benchmark")
	name, _, _ = strings.Cut(name, "-")
	kind, size := "", ""
	for _, k := range []string{"Train", "Forward"} {
		if strings.HasPrefix(name, k) {
			kind, size = k, strings.ToLower(strings.TrimPrefix(name, k))
		}
	}
	if kind == "" {
		return nil
	}
	m := map[string]float64{}
	for i := 3; i+1 < len(fs); i += 2 {
		v, err := strconv.ParseFloat(fs[i], 64)
		if err != nil {
			return fmt.Errorf("line %q: %v", line, err)
		}
		m[fs[i+1]] = v
	}
	f := get(size)
	if kind == "Train" {
		f.goTrain, f.trainGF, f.trainOf = append(f.goTrain, m["tokens/s"]), append(f.trainGF, m["GFLOP/s"]), append(f.trainOf, m["of_sgemm_peak"])
	} else {
		f.goFwd, f.fwdGF, f.fwdOf = append(f.goFwd, m["tokens/s"]), append(f.fwdGF, m["GFLOP/s"]), append(f.fwdOf, m["of_sgemm_peak"])
	}
	if of := m["of_sgemm_peak"]; of > 0 && kind == "Train" {
		f.peak = append(f.peak, m["GFLOP/s"]/of)
	}
	return nil
}

func parseTorch(line string, get func(string) *figures) error {
	_, js, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(js, "{") {
		return nil
	}
	var r struct {
		Config string  `json:"config"`
		Train  float64 `json:"train_tokens_per_s"`
		Infer  float64 `json:"infer_tokens_per_s"`
	}
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		return fmt.Errorf("line %q: %v", line, err)
	}
	f := get(r.Config)
	f.torchTrain, f.torchFwd = append(f.torchTrain, r.Train), append(f.torchFwd, r.Infer)
	return nil
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func ratio(a, b []float64) string {
	if len(a) == 0 || len(b) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2fx", mean(a)/mean(b))
}

func pct(v []float64) []float64 {
	out := slices.Clone(v)
	for i := range out {
		out[i] *= 100
	}
	return out
}

func list(v []float64, format string) string {
	if len(v) == 0 {
		return "–"
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(s, "; ")
}
