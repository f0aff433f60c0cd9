// Command summary reads `go test -bench` output on standard input and
// prints a Markdown table with one row per benchmark: the medians of
// time/op, B/op and allocs/op over its runs (the centre benchstat reports)
// and the metrics the benchmark reports itself, and the number of runs. Benchmarks of packages other than package bench
// are named "<package>.<benchmark>". bench/run puts the table at the top of
// the results file; benchstat's own tables, with confidence intervals,
// follow it there.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// benchPackage is the package of the comparison benchmarks.
const benchPackage = "github.com/sessionguard/sessionguard/bench"

// procSuffix is the -GOMAXPROCS suffix go test appends to names.
var procSuffix = regexp.MustCompile(`-\d+$`)

func main() {
	log.SetFlags(0)
	log.SetPrefix("summary: ")
	if err := summarize(os.Stdin, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// summarize reads benchmark output from in and writes the table to out.
func summarize(in io.Reader, out io.Writer) error {
	var order []string
	values := map[string]map[string][]float64{} // name -> unit -> values
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	prefix := ""
	for sc.Scan() {
		if pkg, found := strings.CutPrefix(sc.Text(), "pkg: "); found {
			prefix = ""
			if pkg = strings.TrimSpace(pkg); pkg != benchPackage {
				prefix = path.Base(pkg) + "."
			}
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := prefix + procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		if values[name] == nil {
			values[name] = map[string][]float64{}
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			values[name][f[i+1]] = append(values[name][f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(order) == 0 {
		return errors.New("no benchmark results in the input")
	}
	fmt.Fprintln(out, "| benchmark | time/op | B/op | allocs/op | other metrics | runs |")
	fmt.Fprintln(out, "|---|--:|--:|--:|--:|--:|")
	for _, name := range order {
		u := values[name]
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %d |\n", name,
			format(u["ns/op"], duration), format(u["B/op"], bytes), format(u["allocs/op"], count), others(u), runs(u))
	}
	return nil
}

// runs is the number of runs: of the unit reported most often, since a
// benchmark may report no time (b.ReportMetric(0, "ns/op")).
func runs(u map[string][]float64) int {
	n := 0
	for _, v := range u {
		n = max(n, len(v))
	}
	return n
}

// others formats the medians of the units other than time, B and allocs
// per op (b.ReportMetric's), "; "-separated, in the order of their names.
func others(u map[string][]float64) string {
	var units []string
	for unit := range u {
		if unit != "ns/op" && unit != "B/op" && unit != "allocs/op" {
			units = append(units, unit)
		}
	}
	slices.Sort(units)
	cells := make([]string, len(units))
	for i, unit := range units {
		cells[i] = strconv.FormatFloat(median(u[unit]), 'g', 3, 64) + " " + unit
	}
	if len(cells) == 0 {
		return "–"
	}
	return strings.Join(cells, "; ")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func format(v []float64, f func(float64) string) string {
	if len(v) == 0 {
		return "–"
	}
	return f(median(v))
}

func duration(ns float64) string {
	switch {
	case ns >= 1e9:
		return sig(ns/1e9) + " s"
	case ns >= 1e6:
		return sig(ns/1e6) + " ms"
	case ns >= 1e3:
		return sig(ns/1e3) + " µs"
	}
	return sig(ns) + " ns"
}

func bytes(b float64) string {
	switch {
	case b >= 1<<20:
		return sig(b/(1<<20)) + " MiB"
	case b >= 1<<10:
		return sig(b/(1<<10)) + " KiB"
	}
	return strconv.FormatFloat(b, 'f', -1, 64) + " B"
}

func count(n float64) string { return strconv.FormatFloat(n, 'f', -1, 64) }

// sig formats v with three significant digits.
func sig(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}
