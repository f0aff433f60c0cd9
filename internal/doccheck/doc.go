// Package doccheck holds no code: its test checks that every citation of
// SECURITY.md and DESIGN.md in the repository's Go files and Markdown
// names a section that exists, so the documents and the code that cites
// them cannot drift apart.
package doccheck
