package dbsc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func fuzzSeeds(f *testing.F, embed bool) []byte {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{EmbedJWK: embed}).WithType("dbsc+jwt"))
	jws, _ := s.Sign([]byte(`{"jti":"c","authorization":"a"}`))
	tok, _ := jws.CompactSerialize()
	f.Add(tok)
	f.Add(`"` + tok + `"`)
	f.Add("eyJhbGciOiJub25lIn0.eyJqdGkiOiJjIn0.")
	f.Add("a.b.c")
	f.Add("")
	pub, _ := jose.JSONWebKey{Key: &k.PublicKey}.MarshalJSON()
	return pub
}

// FuzzVerifyRegistration: whatever the header, a registration is either
// refused or carries a public P-256 or RSA key whose signature verified.
func FuzzVerifyRegistration(f *testing.F) {
	fuzzSeeds(f, true)
	f.Fuzz(func(t *testing.T, header string) {
		reg, err := verifyRegistration(header)
		if err != nil {
			return
		}
		var k jose.JSONWebKey
		if err := json.Unmarshal(reg.key, &k); err != nil || !k.IsPublic() {
			t.Fatalf("accepted a registration whose stored key is not a public key: %s", reg.key)
		}
		if reg.JTI == "" || reg.thumbprint == "" {
			t.Fatalf("accepted a registration without jti or thumbprint: %+v", reg)
		}
	})
}

// FuzzVerifyRefresh: a refresh proof verifies only under the stored key;
// random headers never do.
func FuzzVerifyRefresh(f *testing.F) {
	stored := fuzzSeeds(f, false)
	f.Fuzz(func(t *testing.T, header string) {
		c, err := verifyRefresh(header, stored)
		if err == nil && c.JTI == "" {
			t.Fatal("accepted a refresh without a jti")
		}
	})
}

// FuzzHeaderValue: an accepted value is non-empty printable ASCII without
// quotes or backslashes.
func FuzzHeaderValue(f *testing.F) {
	for _, s := range []string{`"abc"`, "abc", `""`, `"a"b"`, " x ", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		v, ok := headerValue(in)
		if !ok {
			return
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
				t.Fatalf("headerValue(%q) accepted %q", in, v)
			}
		}
		if v == "" {
			t.Fatalf("headerValue(%q) accepted an empty value", in)
		}
	})
}
