package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	type body struct {
		Code string `json:"code"`
	}
	tests := []struct {
		name       string
		body       string
		ctype      string
		wantStatus int // 0: success
		wantCode   string
	}{
		{"a valid object decodes", `{"code":"123456"}`, "application/json", 0, "123456"},
		{"an empty body decodes as an empty object", ``, "", 0, ""},
		{"a wrong type is refused", `{"code":123456}`, "application/json", 400, ""},
		{"an unknown field is refused", `{"code":"1","admin":true}`, "application/json", 400, ""},
		{"trailing data is refused", `{"code":"1"}{"code":"2"}`, "application/json", 400, ""},
		{"broken JSON is refused", `{"code":`, "application/json", 400, ""},
		{"a huge body is refused", `{"code":"` + strings.Repeat("9", 1<<20) + `"}`, "application/json", 413, ""},
		{"a form body is refused", `code=1`, "application/x-www-form-urlencoded", 415, ""},
		{"a repeated name is refused", `{"code":"1","code":"2"}`, "application/json", 400, ""},
		{"a name repeated in another case is refused", `{"code":"1","CODE":"2"}`, "application/json", 400, ""},
		{"a name repeated under Unicode case folding is refused", `{"code":"1","\u212Aode":"2"}`, "application/json", 400, ""},
		{"a name in another case than the field's is refused", `{"Code":"1"}`, "application/json", 400, ""},
		{"a name repeated in a nested object is refused", `{"code":"1","x":{"a":1,"a":2}}`, "application/json", 400, ""},
		{"invalid UTF-8 is refused", "{\"code\":\"\xff\"}", "application/json", 400, ""},
		{"an array is refused", `[{"code":"1"}]`, "application/json", 400, ""},
		{"null is refused", `null`, "application/json", 400, ""},
		{"trailing garbage is refused", `{"code":"1"} x`, "application/json", 400, ""},
		{"white space around the object is accepted", " \n{\"code\":\"7\"}\n ", "application/json", 0, "7"},
		{"a charset parameter is accepted", `{"code":"8"}`, "application/json; charset=utf-8", 0, "8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			w := httptest.NewRecorder()
			var b body
			err := Decode(w, r, 0, &b)
			if tt.wantStatus == 0 {
				if err != nil || b.Code != tt.wantCode {
					t.Fatalf("Decode = %v, code %q; want nil, %q", err, b.Code, tt.wantCode)
				}
				return
			}
			if err == nil || w.Code != tt.wantStatus {
				t.Fatalf("Decode err = %v, status %d; want error, %d", err, w.Code, tt.wantStatus)
			}
			var e ErrorBody
			if json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error == "" || e.Message == "" {
				t.Errorf("error body %q is not {error, message}", w.Body.String())
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Error("error response is not no-store")
			}
		})
	}
}

func TestErrorShape(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	Error(w, http.StatusNotFound, "not_found", "No such session.")
	if w.Code != 404 || w.Body.String() != `{"error":"not_found","message":"No such session."}`+"\n" {
		t.Errorf("got %d %q", w.Code, w.Body.String())
	}
}

// TestUnmarshalRefusesWhatReadersSeeDifferently checks the rows of the
// issue that motivated the strict decoder: with encoding/json alone the
// last repeated name wins, so a proxy reading the first one saw another
// request.
func TestUnmarshalRefusesWhatReadersSeeDifferently(t *testing.T) {
	t.Parallel()
	type revokeAll struct {
		IncludeApps bool `json:"include_apps"`
	}
	for _, body := range []string{
		`{"include_apps":false,"include_apps":true}`,
		`{"include_apps":false,"Include_Apps":true}`,
		`{"INCLUDE_APPS":true}`,
	} {
		var v revokeAll
		if err := Unmarshal([]byte(body), &v); !errors.Is(err, ErrInvalid) {
			t.Errorf("Unmarshal(%s) = %v, include_apps %v; want ErrInvalid", body, err, v.IncludeApps)
		}
	}
}

// FuzzUnmarshal checks that Unmarshal never panics, and that whatever it
// accepts is valid JSON that encoding/json decodes to the same value, with
// no name repeated in any case.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"code":"1"}`, `{"code":"1","code":"2"}`, `{"Code":"1"}`, `{"code":"1"}{}`,
		`{"n":[1,{"a":1,"a":2}]}`, `{"n":[{"a":1},{"a":1}]}`, `{"code":null}`, `{"code":"\u00e9"}`, "{\"code\":\"\xff\"}", `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	type body struct {
		Code *string `json:"code"`
		N    []any   `json:"n"`
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got body
		if err := Unmarshal(data, &got); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Unmarshal error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("Unmarshal accepted invalid JSON %q", data)
		}
		var want body
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("Unmarshal accepted %q, encoding/json refuses it: %v", data, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Unmarshal(%q) = %+v, encoding/json gives %+v", data, got, want)
		}
		if hasRepeatedName(data) {
			t.Fatalf("Unmarshal accepted %q with a repeated name", data)
		}
	})
}

// hasRepeatedName reports, independently of checkNames, whether an object
// in data repeats a name under case folding: it decodes every object into
// a list of names with a RawMessage walk.
func hasRepeatedName(data []byte) bool {
	var walk func(raw json.RawMessage) bool
	walk = func(raw json.RawMessage) bool {
		raw = bytes.TrimSpace(raw)
		switch {
		case len(raw) > 0 && raw[0] == '{':
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.Token() // {
			var names []string
			for dec.More() {
				tok, _ := dec.Token()
				name := tok.(string)
				for _, n := range names {
					if strings.EqualFold(n, name) {
						return true
					}
				}
				names = append(names, name)
				var v json.RawMessage
				if dec.Decode(&v) != nil || walk(v) {
					return true
				}
			}
		case len(raw) > 0 && raw[0] == '[':
			var items []json.RawMessage
			json.Unmarshal(raw, &items)
			for _, it := range items {
				if walk(it) {
					return true
				}
			}
		}
		return false
	}
	return walk(data)
}
