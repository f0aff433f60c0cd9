package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"text/template"
)

func TestReplaceSection(t *testing.T) {
	for _, c := range []struct {
		name, doc, want string
	}{
		{"a middle section is replaced up to the next heading",
			"# t\n\n## A\nold\n\n## Performance\nold 1\nold 2\n\n## B\nb\n",
			"# t\n\n## A\nold\n\n## Performance\nnew\n\n## B\nb\n"},
		{"a last section is replaced up to the end",
			"# t\n\n## Performance\nold\n",
			"# t\n\n## Performance\nnew\n\n"},
	} {
		got, err := replaceSection(c.doc, "## Performance\n", "## Performance\nnew\n")
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v, want %q", c.name, got, err, c.want)
		}
	}
	if _, err := replaceSection("# t\n## Other\n", "## Performance\n", "x"); err == nil {
		t.Error("a document without the heading: got nil error, want one")
	}
}

func TestFormats(t *testing.T) {
	for _, c := range []struct{ name, got, want string }{
		{"three digits stay as they are", thousands("802"), "802"},
		{"five digits get one separator", thousands("41802"), "41,802"},
		{"seven digits get two separators", thousands("1041802"), "1,041,802"},
		{"microseconds are spelled µs", must(latency("600.00us")), "600 µs"},
		{"milliseconds keep three digits", must(latency("22.39ms")), "22.4 ms"},
		{"seconds keep three digits", must(latency("1.02s")), "1.02 s"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if _, err := latency("12parsecs"); err == nil {
		t.Error("latency of an unknown unit: got nil error, want one")
	}
}

func must(s string, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return s
}

// TestUnknownNameFails checks that the template cannot print a blank for a
// benchmark the results lack.
func TestUnknownNameFails(t *testing.T) {
	r := &results{header: map[string]string{}, bench: map[string][]string{
		"Request/floor":              {"2.56 µs", "1.77 KiB", "16", "–"},
		"session.Middleware/HitOver": {"5.00 µs", "–", "–", "1.07 hit/floor; 3 x/y"},
	}, wrk: map[string][]string{}}
	for _, c := range []struct{ name, text, want string }{
		{"an unknown benchmark", `{{time "Request/nothing"}}`, "Request/nothing"},
		{"a metric the benchmark does not report", `{{metric "Request/floor" "hit/floor"}}`, "hit/floor"},
	} {
		tmpl := template.Must(template.New("t").Funcs(r.funcs()).Parse(c.text))
		if err := tmpl.Execute(&bytes.Buffer{}, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error naming %q", c.name, err, c.want)
		}
	}
	var out bytes.Buffer
	tmpl := template.Must(template.New("t").Funcs(r.funcs()).Parse(`{{metric "session.Middleware/HitOver" "x/y"}}`))
	if err := tmpl.Execute(&out, nil); err != nil || out.String() != "3" {
		t.Errorf("a reported metric: got %q, %v, want \"3\"", out.String(), err)
	}
}

// TestReadmeIsFromResults checks that the README's Performance section is
// exactly what bench/run writes from the committed results file: a figure
// edited by hand, or results committed without the README, fail here.
func TestReadmeIsFromResults(t *testing.T) {
	r, err := parseResults("../../results.md")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New("performance").Funcs(r.funcs()).ParseFiles("../../performance.tmpl.md")
	if err != nil {
		t.Fatal(err)
	}
	var section bytes.Buffer
	if err := tmpl.ExecuteTemplate(&section, "performance.tmpl.md", nil); err != nil {
		t.Fatalf("the template does not fit bench/results.md (rerun bench/run): %v", err)
	}
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := replaceSection(string(readme), "## Performance\n", section.String())
	if err != nil {
		t.Fatal(err)
	}
	if string(readme) != want {
		t.Error("README.md's Performance section is not what bench/run writes from bench/results.md: rerun bench/run (or go run ./cmd/perfdoc in bench/)")
	}
}
