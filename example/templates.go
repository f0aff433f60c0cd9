package main

import (
	"fmt"
	"html/template"
	"time"
)

var pageNames = []string{"home", "login", "signup", "sessions", "error"}

// parsePages parses each page together with the shared layout.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{"ago": ago}
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

// ago renders "Active now", "3 minutes ago", "2 hours ago", "5 days ago".
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
