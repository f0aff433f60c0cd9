// Command perfdoc rewrites the README's "## Performance" section from a
// bench/run results file, so that every figure there is one the command
// printed.
//
//	go run ./cmd/perfdoc -results results.md -template performance.tmpl.md -readme ../README.md
//
// The template (text/template) reads the results through these functions,
// each of which fails, rather than print a blank, when the results lack
// the name it is given:
//
//	{{time "Request/floor"}}      median time/op, e.g. "2.56 µs"
//	{{allocs "Request/floor"}}    median allocs/op
//	{{bytes "Request/floor"}}     median B/op
//	{{metric "session.Middleware/HitOverFloor" "hit/floor"}}  median of a reported metric
//	{{rps "floor/cookie"}}        wrk requests/s, e.g. "41,802"
//	{{p99 "floor/cookie"}}        wrk p99 latency, e.g. "22.4 ms"
//	{{header "date"}}             a "- date: …" line of the results header
//
// The section ends at the next "## " heading.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"text/template"
)

func main() {
	resultsPath := flag.String("results", "results.md", "bench/run results file")
	templatePath := flag.String("template", "performance.tmpl.md", "template of the section")
	readmePath := flag.String("readme", "../README.md", "README to rewrite")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("perfdoc: ")

	r, err := parseResults(*resultsPath)
	if err != nil {
		log.Fatal(err)
	}
	tmpl, err := template.New("performance").Funcs(r.funcs()).ParseFiles(*templatePath)
	if err != nil {
		log.Fatal(err)
	}
	var section bytes.Buffer
	if err := tmpl.ExecuteTemplate(&section, lastElem(*templatePath), nil); err != nil {
		log.Fatal(err)
	}
	readme, err := os.ReadFile(*readmePath)
	if err != nil {
		log.Fatal(err)
	}
	out, err := replaceSection(string(readme), "## Performance\n", section.String())
	if err != nil {
		log.Fatalf("%s: %v", *readmePath, err)
	}
	if err := os.WriteFile(*readmePath, []byte(out), 0o644); err != nil {
		log.Fatal(err)
	}
}

func lastElem(p string) string { return p[strings.LastIndex(p, "/")+1:] }

// replaceSection replaces the section starting with heading, up to the next
// "## " heading, by section.
func replaceSection(doc, heading, section string) (string, error) {
	start := strings.Index(doc, "\n"+heading)
	if start < 0 {
		return "", fmt.Errorf("no %q heading", strings.TrimSpace(heading))
	}
	start++
	end := strings.Index(doc[start+len(heading):], "\n## ")
	if end < 0 {
		end = len(doc)
	} else {
		end += start + len(heading) + 1
	}
	if !strings.HasSuffix(section, "\n\n") {
		section = strings.TrimRight(section, "\n") + "\n\n"
	}
	return doc[:start] + section + doc[end:], nil
}

// results is what perfdoc reads from a results file.
type results struct {
	header map[string]string   // "date" -> "2026-12-03 10:04 UTC"
	bench  map[string][]string // benchmark -> time/op, B/op, allocs/op, other metrics
	wrk    map[string][]string // server -> requests/s, p50, p99
}

func parseResults(path string) (*results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &results{header: map[string]string{}, bench: map[string][]string{}, wrk: map[string][]string{}}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			section = line
		case section == "" && strings.HasPrefix(line, "- "):
			k, v, _ := strings.Cut(strings.TrimPrefix(line, "- "), ": ")
			r.header[k] = v
		case section == "" && strings.HasPrefix(line, "Load average"):
			r.header["load"] = line
		case strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "|---"):
			cells := strings.Split(strings.Trim(line, "| "), " | ")
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			switch {
			case strings.HasPrefix(section, "## Go benchmarks") && len(cells) == 6:
				r.bench[cells[0]] = cells[1:5]
			case strings.HasPrefix(section, "## Go benchmarks") && len(cells) == 5:
				// Written before the "other metrics" column.
				r.bench[cells[0]] = append(cells[1:4:4], "–")
			case strings.HasPrefix(section, "## HTTP load test") && len(cells) >= 4:
				r.wrk[cells[0]] = cells[1:4]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(r.bench) == 0 {
		return nil, fmt.Errorf("%s: no benchmark table", path)
	}
	return r, nil
}

func (r *results) funcs() template.FuncMap {
	benchCell := func(i int) func(string) (string, error) {
		return func(name string) (string, error) {
			v, ok := r.bench[name]
			if !ok || v[i] == "–" {
				return "", fmt.Errorf("no result for benchmark %q", name)
			}
			return v[i], nil
		}
	}
	return template.FuncMap{
		"time":   benchCell(0),
		"bytes":  benchCell(1),
		"allocs": benchCell(2),
		"metric": func(name, unit string) (string, error) {
			v, ok := r.bench[name]
			if ok {
				for _, m := range strings.Split(v[3], "; ") {
					if value, found := strings.CutSuffix(m, " "+unit); found {
						return value, nil
					}
				}
			}
			return "", fmt.Errorf("no %s reported by benchmark %q", unit, name)
		},
		"rps": func(server string) (string, error) {
			v, ok := r.wrk[server]
			if !ok || v[0] == "" || strings.HasPrefix(v[0], "skipped") {
				return "", fmt.Errorf("no load-test result for %q", server)
			}
			return thousands(v[0]), nil
		},
		"p99": func(server string) (string, error) {
			v, ok := r.wrk[server]
			if !ok || v[2] == "" {
				return "", fmt.Errorf("no load-test result for %q", server)
			}
			return latency(v[2])
		},
		"header": func(key string) (string, error) {
			v, ok := r.header[key]
			if !ok {
				return "", fmt.Errorf("no %q in the results header", key)
			}
			return v, nil
		},
	}
}

// thousands writes "41802" as "41,802".
func thousands(s string) string {
	if len(s) <= 3 {
		return s
	}
	return thousands(s[:len(s)-3]) + "," + s[len(s)-3:]
}

// latency turns wrk's "22.39ms" or "600.00us" into "22.4 ms" or "600 µs".
func latency(s string) (string, error) {
	for _, u := range []struct{ suffix, unit string }{{"us", "µs"}, {"ms", "ms"}, {"s", "s"}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return "", fmt.Errorf("latency %q: %w", s, err)
			}
			switch {
			case v >= 100:
				return strconv.FormatFloat(v, 'f', 0, 64) + " " + u.unit, nil
			case v >= 10:
				return strconv.FormatFloat(v, 'f', 1, 64) + " " + u.unit, nil
			}
			return strconv.FormatFloat(v, 'f', 2, 64) + " " + u.unit, nil
		}
	}
	return "", fmt.Errorf("latency %q: unknown unit", s)
}
