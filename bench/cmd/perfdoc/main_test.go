package main

import (
	"bytes"
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
	r := &results{header: map[string]string{}, bench: map[string][]string{"Request/floor": {"2.56 µs", "1.77 KiB", "16"}}, wrk: map[string][]string{}}
	tmpl := template.Must(template.New("t").Funcs(r.funcs()).Parse(`{{time "Request/nothing"}}`))
	if err := tmpl.Execute(&bytes.Buffer{}, nil); err == nil || !strings.Contains(err.Error(), "Request/nothing") {
		t.Errorf("unknown benchmark: got %v, want an error naming it", err)
	}
}
