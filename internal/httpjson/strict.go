package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every error of [Unmarshal].
var ErrInvalid = errors.New("httpjson: invalid request body")

// Unmarshal decodes data, one JSON object, into v, a pointer to a struct,
// refusing whatever two JSON readers could understand differently, so that
// a proxy or log that reads the body sees the request this server acts on
// (RFC 8259 §4 leaves duplicate names undefined; OWASP ASVS 5.0 1.5):
//
//   - a name repeated in one object, also when the repeats differ only in
//     case (encoding/json would keep the last one);
//   - a top-level name that is not exactly one of v's JSON field names
//     (encoding/json would match "Include_Apps" to "include_apps");
//   - invalid UTF-8 (encoding/json would replace it silently);
//   - anything but an object at the top level, and data after it;
//   - wrong types, as encoding/json does.
//
// Empty data (only white space) decodes as {}. Errors wrap [ErrInvalid].
func Unmarshal(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: not UTF-8", ErrInvalid)
	}
	if err := checkNames(data, fieldNames(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the JSON object", ErrInvalid)
	}
	return nil
}

// checkNames walks data's tokens: the top level must be an object whose
// names are in exact (when non-nil), and no object may repeat a name, even
// in another case.
func checkNames(data []byte, exact map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object  bool
		wantKey bool
		names   map[string]struct{}
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil // the decoder reports anything incomplete
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if len(stack) == 0 && tok != json.Delim('{') {
			return fmt.Errorf("%w: not a JSON object", ErrInvalid)
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:n-1]
				continue
			}
			name := tok.(string) // Token returns only names here
			f := &stack[n-1]
			if n == 1 && exact != nil && !exact[name] {
				return fmt.Errorf("%w: unknown field %q", ErrInvalid, name)
			}
			k := foldName(name)
			if _, dup := f.names[k]; dup {
				return fmt.Errorf("%w: duplicate field %q", ErrInvalid, name)
			}
			f.names[k] = struct{}{}
			f.wantKey = false
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true // this token is a value: a name follows
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, wantKey: true, names: map[string]struct{}{}})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].wantKey = true
			}
		}
		if len(stack) == 0 {
			return nil // the top-level object ended; Unmarshal refuses what follows
		}
	}
}

// foldName maps every rune of s to the smallest rune of its Unicode case
// folding orbit, so that names equal under strings.EqualFold — the
// matching encoding/json does — map to the same key.
func foldName(s string) string {
	return strings.Map(func(r rune) rune {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		return min
	}, s)
}

// fieldNames returns the JSON names of the fields of the struct v points
// to, or nil when v is not a pointer to a struct.
func fieldNames(v any) map[string]bool {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	t = t.Elem()
	names := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil // promoted fields: leave the matching to encoding/json
		}
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names[name] = true
	}
	return names
}
