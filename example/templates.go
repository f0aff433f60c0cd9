package main

import (
	"fmt"
	"html/template"
	"time"
)

var pageNames = []string{
	"home", "login", "signup", "second-factor", "sessions", "confirm",
	"two-factor", "recovery-codes", "apps", "security-log", "password", "error",
}

// parsePages parses each page together with the shared layout.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{"ago": ago, "iso": iso, "when": when}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// ago renders "Active now", "Last active 3 minutes ago", "Last active 2
// hours ago", "Last active 5 days ago".
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 2*time.Minute:
		return "Active now"
	case d < time.Hour:
		return fmt.Sprintf("Last active %d minutes ago", int(d/time.Minute))
	case d < 2*time.Hour:
		return "Last active an hour ago"
	case d < 48*time.Hour:
		return fmt.Sprintf("Last active %d hours ago", int(d/time.Hour))
	default:
		return fmt.Sprintf("Last active %d days ago", int(d/(24*time.Hour)))
	}
}

// timeOf accepts a time.Time or a *time.Time (nil gives the zero time).
func timeOf(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t
	case *time.Time:
		if t != nil {
			return *t
		}
	}
	return time.Time{}
}

// iso renders a time for a <time datetime> attribute.
func iso(v any) string { return timeOf(v).UTC().Format(time.RFC3339) }

// when renders a time for people: "14 Mar 2025, 09:30 UTC".
func when(v any) string { return timeOf(v).UTC().Format("2 Jan 2006, 15:04 UTC") }
