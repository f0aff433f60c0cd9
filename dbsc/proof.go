package dbsc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Errors of a refused proof. Each is answered with 400
// {"error":"invalid_proof"} and recorded in the security log; nothing is
// stored. Test them with errors.Is.
var (
	// ErrMalformed: the Secure-Session-Response header is missing or is
	// not a compact JWS with a JSON payload.
	ErrMalformed = errors.New("dbsc: malformed proof")
	// ErrAlgorithm: the JWT's alg is not ES256 or RS256 (none and HMAC
	// algorithms included), or does not match its key.
	ErrAlgorithm = errors.New("dbsc: algorithm not allowed (want ES256 with P-256, or RS256)")
	// ErrKey: a registration without a usable public key in its jwk
	// header (a private key, another curve, RSA under 2048 bits).
	ErrKey = errors.New("dbsc: registration key missing or unusable")
	// ErrKeyOnRefresh: a refresh proof carries a key; only the registered
	// key is accepted after registration.
	ErrKeyOnRefresh = errors.New("dbsc: refresh proof carries a key")
	// ErrSignature: the signature does not verify with the key.
	ErrSignature = errors.New("dbsc: signature does not verify")
	// ErrChallenge: the jti is not a challenge issued to this session, or
	// was already used, or expired.
	ErrChallenge = errors.New("dbsc: challenge unknown, used, expired or issued to another session")
	// ErrAuthorization: the registration's authorization value does not
	// match the one offered with its challenge.
	ErrAuthorization = errors.New("dbsc: authorization does not match")
	// ErrSessionID: the Sec-Secure-Session-Id header does not name this
	// session's binding.
	ErrSessionID = errors.New("dbsc: unknown session identifier")
)

// maxProofLength bounds a Secure-Session-Response header (an RS256 JWT with
// a 4096-bit key in its header is about 2 KiB).
const maxProofLength = 8 << 10

// allowed are the only algorithms accepted.
var allowed = []jose.SignatureAlgorithm{jose.ES256, jose.RS256}

// claims is the JWT payload DBSC defines (Chromium sends no aud or iat).
type claims struct {
	JTI           string `json:"jti"`
	Authorization string `json:"authorization"`
}

// headerValue returns a structured-field value bare: Chromium sends bare
// tokens where the draft shows quoted strings; both are accepted. Quotes,
// backslashes and anything outside printable ASCII inside are refused.
func headerValue(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if v == "" {
		return "", false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return "", false
		}
	}
	return v, true
}

// parse reads a proof: the alg is checked before go-jose parses it, so
// that a refused algorithm gets its own error.
func parse(header string) (*jose.JSONWebSignature, error) {
	token, ok := headerValue(header)
	if !ok || len(token) > maxProofLength {
		return nil, fmt.Errorf("%w: Secure-Session-Response is not a compact JWT", ErrMalformed)
	}
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		return nil, fmt.Errorf("%w: not a compact JWT", ErrMalformed)
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url", ErrMalformed)
	}
	var h struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%w: header is not JSON", ErrMalformed)
	}
	if h.Alg != string(jose.ES256) && h.Alg != string(jose.RS256) {
		return nil, fmt.Errorf("%w: got %q", ErrAlgorithm, h.Alg)
	}
	if h.Typ != "" && h.Typ != "dbsc+jwt" {
		return nil, fmt.Errorf("%w: typ %q, want dbsc+jwt", ErrMalformed, h.Typ)
	}
	jws, err := jose.ParseSignedCompact(token, allowed)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: want one signature", ErrMalformed)
	}
	return jws, nil
}

// checkKey accepts a public P-256 key for ES256 or a public RSA key of at
// least 2048 bits for RS256.
func checkKey(k *jose.JSONWebKey, alg string) error {
	switch pk := k.Key.(type) {
	case *ecdsa.PublicKey:
		if pk.Curve != elliptic.P256() {
			return fmt.Errorf("%w: EC key not on P-256", ErrKey)
		}
		if alg != string(jose.ES256) {
			return fmt.Errorf("%w: %s with an EC key", ErrAlgorithm, alg)
		}
	case *rsa.PublicKey:
		if pk.N.BitLen() < 2048 {
			return fmt.Errorf("%w: RSA key under 2048 bits", ErrKey)
		}
		if alg != string(jose.RS256) {
			return fmt.Errorf("%w: %s with an RSA key", ErrAlgorithm, alg)
		}
	default:
		return fmt.Errorf("%w: want a public EC or RSA key", ErrKey)
	}
	return nil
}

func verify(jws *jose.JSONWebSignature, k *jose.JSONWebKey) (*claims, error) {
	if err := checkKey(k, jws.Signatures[0].Header.Algorithm); err != nil {
		return nil, err
	}
	payload, err := jws.Verify(k)
	if err != nil {
		return nil, ErrSignature
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	if c.JTI == "" || len(c.JTI) > 128 {
		return nil, fmt.Errorf("%w: jti missing or too long", ErrMalformed)
	}
	return &c, nil
}

// registration is a verified registration proof.
type registration struct {
	claims
	key        []byte // the public JWK, JSON
	thumbprint string // RFC 7638, SHA-256, base64url
}

// verifyRegistration verifies a registration proof with the key of its own
// jwk header.
func verifyRegistration(header string) (*registration, error) {
	jws, err := parse(header)
	if err != nil {
		return nil, err
	}
	k := jws.Signatures[0].Header.JSONWebKey
	if k == nil || !k.IsPublic() || !k.Valid() {
		return nil, ErrKey
	}
	c, err := verify(jws, k)
	if err != nil {
		return nil, err
	}
	pub := k.Public()
	key, err := pub.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return &registration{claims: *c, key: key, thumbprint: base64.RawURLEncoding.EncodeToString(tp)}, nil
}

// verifyRefresh verifies a refresh proof with the stored key only.
func verifyRefresh(header string, storedKey []byte) (*claims, error) {
	jws, err := parse(header)
	if err != nil {
		return nil, err
	}
	if jws.Signatures[0].Header.JSONWebKey != nil {
		return nil, ErrKeyOnRefresh
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(storedKey); err != nil {
		return nil, fmt.Errorf("dbsc: stored key unreadable: %w", err)
	}
	return verify(jws, &k)
}
