package doccheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	// "SECURITY.md §12", "SECURITY.md §13–14", also across a comment's line break.
	securityCite = regexp.MustCompile(`SECURITY\.md\s*(?://\s*)?§(\d+)(?:[–-](\d+))?`)
	// DESIGN.md "Revocation properties"
	designCite     = regexp.MustCompile(`DESIGN\.md\s*(?://\s*)?"([^"\n]+)"`)
	securityHeader = regexp.MustCompile(`(?m)^### §(\d+) `)
	designHeader   = regexp.MustCompile(`(?m)^#{2,3} (.+)$`)
)

// TestCitationsResolve: every "SECURITY.md §N" cites a numbered section
// of SECURITY.md, the sections are §1… without gaps, and every
// DESIGN.md "Heading" names a heading of DESIGN.md.
func TestCitationsResolve(t *testing.T) {
	root := filepath.Join("..", "..")
	security := read(t, filepath.Join(root, "SECURITY.md"))
	design := read(t, filepath.Join(root, "DESIGN.md"))

	sections := map[int]bool{}
	for i, m := range securityHeader.FindAllStringSubmatch(security, -1) {
		n, _ := strconv.Atoi(m[1])
		if n != i+1 {
			t.Errorf("SECURITY.md: section §%d follows §%d; want them numbered from §1 without gaps", n, i)
		}
		sections[n] = true
	}
	headings := map[string]bool{}
	for _, m := range designHeader.FindAllStringSubmatch(design, -1) {
		headings[strings.TrimSpace(m[1])] = true
	}

	cites := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "doccheck") {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".md")) {
			return nil
		}
		text := read(t, path)
		for _, m := range securityCite.FindAllStringSubmatch(text, -1) {
			cites++
			from, _ := strconv.Atoi(m[1])
			to := from
			if m[2] != "" {
				to, _ = strconv.Atoi(m[2])
			}
			for n := from; n <= to; n++ {
				if !sections[n] {
					t.Errorf("%s cites SECURITY.md §%d, which does not exist", path, n)
				}
			}
		}
		for _, m := range designCite.FindAllStringSubmatch(text, -1) {
			cites++
			if !headings[m[1]] {
				t.Errorf("%s cites DESIGN.md %q, which is not a heading of DESIGN.md", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sections) == 0 || cites == 0 {
		t.Fatalf("found %d sections and %d citations; the patterns no longer match the documents", len(sections), cites)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
