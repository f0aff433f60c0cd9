package httpjson

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
