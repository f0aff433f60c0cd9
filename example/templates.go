package main

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

var pageNames = []string{
	"home", "login", "signup", "second-factor", "sessions", "confirm",
	"two-factor", "recovery-codes", "apps", "security-log", "password", "error",
	"session", "app", "not-found", "trusted-browser", "passkey",
}

// parsePages parses each page together with the shared layout.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{"ago": ago, "iso": iso, "when": when, "at": at, "field": field, "fieldError": fieldError, "confirmField": confirmField}
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

// at renders a time as <time datetime="…">14 Mar 2025, 09:30 UTC</time>:
// meaningful as it is; the page's script turns the text into a relative
// one ("2 minutes ago", in the viewer's language) and puts the full date
// in the viewer's time zone in its title (shown on hover).
func at(v any) template.HTML {
	t := timeOf(v)
	return template.HTML(`<time datetime="` + iso(t) + `" data-relative>` + template.HTMLEscapeString(when(t)) + `</time>`)
}

// field returns the attributes of a form field with the given id: its
// hint (the id of a description, or ""), and, when the page's error is
// about this field, aria-invalid, the error next to it (see fieldError) as
// a second description, and the focus. focus gives the field the focus when the page has no error:
// the field where a person starts. (An error about no field in particular
// takes the focus itself, see app.js.) Use it as <input id="x" {{field $ "x" "x-hint" true}}>.
func field(d pageData, id, hint string, focus bool) template.HTMLAttr {
	var describedBy []string
	if hint != "" {
		describedBy = append(describedBy, hint)
	}
	var b strings.Builder
	if d.Error != "" && d.Field == id {
		describedBy = append(describedBy, id+"-error")
		b.WriteString(` aria-invalid="true" autofocus`)
	} else if focus && d.Error == "" {
		b.WriteString(` autofocus`)
	}
	if len(describedBy) > 0 {
		// The ids are constants of the templates: nothing to escape.
		b.WriteString(` aria-describedby="` + strings.Join(describedBy, " ") + `"`)
	}
	return template.HTMLAttr(b.String())
}

// fieldError returns the page's error when it is about the field with the
// given id. The template shows it next to the field too, with the id
// "<id>-error": on a phone the message at the top of the page may be out
// of view when the field takes the focus.
func fieldError(d pageData, id string) string {
	if d.Error != "" && d.Field == id {
		return d.Error
	}
	return ""
}

// confirmFieldView is what the "password-confirm" template needs.
type confirmFieldView struct {
	// Prefix makes the field's ids unique on a page.
	Prefix string
	Attrs  template.HTMLAttr
	// Error is the error about this field, if any.
	Error string
}

// confirmField prepares the "password-confirm" template: the password
// field of a form whose ids start with prefix; a wrong-password error is
// tied to it.
func confirmField(d pageData, prefix string) confirmFieldView {
	if d.Field == "password" {
		d.Field = prefix + "-password"
	}
	return confirmFieldView{Prefix: prefix, Attrs: field(d, prefix+"-password", prefix+"-password-hint", false), Error: fieldError(d, prefix+"-password")}
}
