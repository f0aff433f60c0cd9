// Package httpjson holds the JSON request and response conventions shared by
// the session and totp handlers: size-limited strict decoding and the
// {"error": code, "message": text} error shape (DESIGN.md "HTTP contract").
package httpjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// DefaultMaxBody is the request body limit used when a caller passes 0.
const DefaultMaxBody = 16 << 10

// ErrorBody is the shape of every error response.
type ErrorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// Write writes v as JSON with the given status. Every response is marked
// no-store: these bodies describe a user's account.
func Write(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Error writes {"error": code, "message": message} with the given status.
// message must be safe to show to the user: it never contains a secret.
func Error(w http.ResponseWriter, status int, code, message string) {
	Write(w, status, ErrorBody{Error: code, Message: message})
}

// Decode reads one JSON object from r's body into v, a pointer to a struct,
// with [Unmarshal]'s strict rules, reading at most maxBody bytes (0:
// DefaultMaxBody). An empty body decodes as {}. On failure it has already
// written a 400 (413 for a body over the limit, 415 for a Content-Type
// other than JSON) and returns a non-nil error; v may then be partly filled
// and must be discarded (SECURITY.md §23).
func Decode(w http.ResponseWriter, r *http.Request, maxBody int64, v any) error {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		Error(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "The request body must be JSON (Content-Type: application/json).")
		return errors.New("httpjson: content type " + ct)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			Error(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("The request body is larger than %d bytes.", maxBody))
			return err
		}
		Error(w, http.StatusBadRequest, "bad_request", "The request body could not be read.")
		return fmt.Errorf("httpjson: reading body: %w", err)
	}
	if err := Unmarshal(data, v); err != nil {
		Error(w, http.StatusBadRequest, "bad_request", "The request body is not valid JSON for this endpoint.")
		return err
	}
	return nil
}
