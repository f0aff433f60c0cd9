// Package passkey adds WebAuthn security keys and passkeys to sessionguard,
// on github.com/go-webauthn/webauthn (which parses the CBOR, COSE keys and
// attestation; nothing of it is written here): any number of named
// credentials per user, used as the second factor at the same step as a
// TOTP code, or to sign in without a password (discoverable credentials,
// user verification required).
//
// A [Service] is a [session.RouteSet]: mount it with the Manager's routes,
//
//	mux.Handle("/auth/", m.Routes(totpService, passkeyService))
//
// Credentials, their signature counters and backup flags, and the pending
// challenges (single-use, [Config.ChallengeTTL]) live in the session store
// through [storage.PasskeyStore]. A signature counter that does not
// increase is refused and logged as a possible cloned key.
package passkey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

// Defaults and limits of [Config].
const (
	DefaultChallengeTTL = 5 * time.Minute
	DefaultMaxPasskeys  = 20
	// MaxNameLength is the longest passkey name (bytes).
	MaxNameLength = 64
)

// Errors of the Go API. Test them with errors.Is.
var (
	// ErrNotFound: no such passkey for this user (another user's ID gives
	// the same error).
	ErrNotFound = errors.New("passkey: not found")
	// ErrChallenge: the ceremony's challenge is unknown, used, expired, or
	// was issued for another ceremony or user.
	ErrChallenge = errors.New("passkey: unknown or expired challenge")
	// ErrInvalid: the authenticator's answer did not verify (signature,
	// origin, RP ID, user verification, flags, unknown credential).
	ErrInvalid = errors.New("passkey: the authenticator's answer did not verify")
	// ErrCounter: the signature counter did not increase — a possible
	// cloned key. The use is refused and logged.
	ErrCounter = errors.New("passkey: signature counter did not increase")
	// ErrTooMany: the user has Config.MaxPasskeys passkeys.
	ErrTooMany = errors.New("passkey: too many passkeys")
	// ErrBadName: a name must be 1 to MaxNameLength bytes of UTF-8.
	ErrBadName = errors.New("passkey: a name is 1 to 64 bytes of text")
)

// Config configures a [Service]. Manager, Store, RPID, RPDisplayName and
// RPOrigins are required.
type Config struct {
	// Manager issues the sessions. Required.
	Manager *session.Manager
	// Store keeps the credentials and challenges (the Manager's store).
	// Required.
	Store storage.Store
	// RPID is the WebAuthn relying party ID: the site's registrable
	// domain or a host under it ("example.com"). Required.
	RPID string
	// RPDisplayName is the name authenticators show. Required.
	RPDisplayName string
	// RPOrigins are the origins the browser ceremonies may come from
	// ("https://example.com"). Required.
	RPOrigins []string
	// ChallengeTTL is how long a ceremony may take. Default 5 minutes.
	ChallengeTTL time.Duration
	// MaxPasskeys bounds the passkeys of one user. Default 20.
	MaxPasskeys int
	// UserName returns the account name authenticators show for userID
	// (a passkey picker lists it). Default: the user ID.
	UserName func(ctx context.Context, userID string) string
	// Clock defaults to time.Now.
	Clock func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Service registers and verifies passkeys. Create it with [New]; it is
// safe for concurrent use.
type Service struct {
	cfg Config
	wa  *webauthn.WebAuthn
}

// New validates cfg, applies defaults and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Manager == nil || cfg.Store == nil || cfg.RPID == "" || cfg.RPDisplayName == "" || len(cfg.RPOrigins) == 0 {
		return nil, errors.New("passkey: Config needs Manager, Store, RPID, RPDisplayName and RPOrigins")
	}
	for _, o := range cfg.RPOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			return nil, fmt.Errorf("passkey: Config.RPOrigins: %q is not an origin", o)
		}
	}
	if cfg.ChallengeTTL == 0 {
		cfg.ChallengeTTL = DefaultChallengeTTL
	}
	if cfg.MaxPasskeys == 0 {
		cfg.MaxPasskeys = DefaultMaxPasskeys
	}
	if cfg.ChallengeTTL < 0 || cfg.MaxPasskeys < 0 {
		return nil, errors.New("passkey: ChallengeTTL and MaxPasskeys must not be negative")
	}
	if cfg.UserName == nil {
		cfg.UserName = func(_ context.Context, userID string) string { return userID }
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	wa, err := webauthn.New(&webauthn.Config{RPID: cfg.RPID, RPDisplayName: cfg.RPDisplayName, RPOrigins: cfg.RPOrigins})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &Service{cfg: cfg, wa: wa}, nil
}

// Info is one passkey as listed by [Service.List] and GET /passkeys.
type Info struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"` // null until first used
	// Synced: the credential may be backed up (a synced passkey, BE);
	// BackedUp: it is now (BS).
	Synced   bool `json:"synced"`
	BackedUp bool `json:"backed_up"`
}

func infoOf(p *storage.Passkey) Info {
	i := Info{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt, Synced: p.BackupEligible, BackedUp: p.BackupState}
	if !p.LastUsedAt.IsZero() {
		t := p.LastUsedAt
		i.LastUsedAt = &t
	}
	return i
}

// List returns userID's passkeys, oldest first.
func (s *Service) List(ctx context.Context, userID string) ([]Info, error) {
	list, err := s.cfg.Store.ListPasskeys(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("passkey: listing: %w", err)
	}
	out := make([]Info, len(list))
	for i := range list {
		out[i] = infoOf(&list[i])
	}
	return out, nil
}

// Rename names userID's passkey id.
func (s *Service) Rename(ctx context.Context, userID, id, name string) error {
	if !validName(name) {
		return ErrBadName
	}
	if err := s.cfg.Store.RenamePasskey(ctx, userID, id, name); errors.Is(err, storage.ErrNotFound) {
		return ErrNotFound
	} else if err != nil {
		return fmt.Errorf("passkey: renaming: %w", err)
	}
	return nil
}

// Remove deletes userID's passkey id and records a "passkey_removed"
// event. When it was the user's last second factor (no passkey left and
// no confirmed TOTP), the second factor is off: all of the user's trusted
// browsers end too ([session.TrustedBrowsers.RevokeAll]). The HTTP route
// requires a recent authentication; Go callers decide.
func (s *Service) Remove(ctx context.Context, a session.Audit, userID, id string) error {
	if err := s.cfg.Store.DeletePasskey(ctx, userID, id); errors.Is(err, storage.ErrNotFound) {
		return ErrNotFound
	} else if err != nil {
		return fmt.Errorf("passkey: removing: %w", err)
	}
	s.cfg.Manager.SecurityLog().Record(ctx, a, userID, storage.EventPasskeyRemoved, "")
	left, err := s.cfg.Store.ListPasskeys(ctx, userID)
	if err != nil {
		return fmt.Errorf("passkey: removed, but checking the remaining second factors failed: %w", err)
	}
	if len(left) > 0 {
		return nil
	}
	cred, err := s.cfg.Store.GetTOTP(ctx, userID)
	switch {
	case err == nil && cred.Confirmed:
		return nil
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("passkey: removed, but checking the remaining second factors failed: %w", err)
	}
	if _, err := s.cfg.Manager.TrustedBrowsers().RevokeAll(ctx, a, userID); err != nil {
		return fmt.Errorf("passkey: removed, but ending trusted browsers failed: %w", err)
	}
	return nil
}

func validName(name string) bool {
	return name != "" && len(name) <= MaxNameLength && utf8.ValidString(name)
}

// user is a sessionguard user as go-webauthn sees it.
type user struct {
	id, name string
	creds    []webauthn.Credential
}

// userHandle is the WebAuthn user handle of userID: a hash, so that
// authenticators never hold the application's user ID (which may be an
// e-mail address) and every handle is 32 bytes.
func userHandle(userID string) []byte {
	h := sha256.Sum256([]byte("sessionguard passkey user handle\x00" + userID))
	return h[:]
}

func (u *user) WebAuthnID() []byte                         { return userHandle(u.id) }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.name }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// credential rebuilds the library's credential record from p, with the
// stored counter and flags as the authority.
func credential(p *storage.Passkey) (webauthn.Credential, error) {
	var c webauthn.Credential
	if err := json.Unmarshal(p.Data, &c); err != nil {
		return c, fmt.Errorf("passkey: stored credential %s: %w", p.ID, err)
	}
	c.ID = p.CredentialID
	c.Authenticator.SignCount = p.SignCount
	c.Flags.BackupEligible, c.Flags.BackupState = p.BackupEligible, p.BackupState
	return c, nil
}

// loadUser returns userID with its credentials and stored passkeys.
func (s *Service) loadUser(ctx context.Context, userID string) (*user, []storage.Passkey, error) {
	list, err := s.cfg.Store.ListPasskeys(ctx, userID)
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: listing: %w", err)
	}
	u := &user{id: userID, name: s.cfg.UserName(ctx, userID)}
	for i := range list {
		c, err := credential(&list[i])
		if err != nil {
			return nil, nil, err
		}
		u.creds = append(u.creds, c)
	}
	return u, list, nil
}

// Ceremony kinds stored with a challenge.
const (
	kindRegister     = "register"
	kindSecondFactor = "second_factor"
	kindLogin        = "login"
)

// challengeData is what a challenge record keeps.
type challengeData struct {
	Session webauthn.SessionData `json:"s"`
	Name    string               `json:"n,omitempty"`
}

// putChallenge stores sd for kind and userID and returns its ID.
func (s *Service) putChallenge(ctx context.Context, kind, userID string, d challengeData) (string, error) {
	data, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("passkey: encoding challenge: %w", err)
	}
	id := rand.Text()
	c := &storage.PasskeyChallenge{ID: id, UserID: userID, Kind: kind, Data: data, ExpiresAt: s.cfg.Clock().Add(s.cfg.ChallengeTTL)}
	if err := s.cfg.Store.PutPasskeyChallenge(ctx, c); err != nil {
		return "", fmt.Errorf("passkey: storing challenge: %w", err)
	}
	return id, nil
}

// takeChallenge consumes challenge id, which must be of kind and for
// userID. It is consumed whatever happens next: a failed ceremony starts
// again from begin.
func (s *Service) takeChallenge(ctx context.Context, id, kind, userID string) (*challengeData, error) {
	if id == "" || len(id) > 64 {
		return nil, ErrChallenge
	}
	c, err := s.cfg.Store.TakePasskeyChallenge(ctx, id, s.cfg.Clock())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrChallenge
	} else if err != nil {
		return nil, fmt.Errorf("passkey: reading challenge: %w", err)
	}
	if c.Kind != kind || c.UserID != userID {
		return nil, ErrChallenge
	}
	var d challengeData
	if err := json.Unmarshal(c.Data, &d); err != nil {
		return nil, fmt.Errorf("passkey: stored challenge: %w", err)
	}
	return &d, nil
}

// BeginRegistration starts registering a passkey named name for userID.
// It returns the challenge ID and the options for
// navigator.credentials.create (PublicKeyCredential.parseCreationOptionsFromJSON
// reads their "publicKey"). Registration asks for a discoverable
// credential when the authenticator can make one (so it can also sign in
// without a password) and excludes the user's registered ones.
func (s *Service) BeginRegistration(ctx context.Context, userID, name string) (string, *protocol.CredentialCreation, error) {
	if !validName(name) {
		return "", nil, ErrBadName
	}
	u, list, err := s.loadUser(ctx, userID)
	if err != nil {
		return "", nil, err
	}
	if len(list) >= s.cfg.MaxPasskeys {
		return "", nil, ErrTooMany
	}
	exclude := make([]protocol.CredentialDescriptor, len(u.creds))
	for i := range u.creds {
		exclude[i] = u.creds[i].Descriptor()
	}
	creation, sd, err := s.wa.BeginRegistration(u,
		webauthn.WithExclusions(exclude),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
	)
	if err != nil {
		return "", nil, fmt.Errorf("passkey: begin registration: %w", err)
	}
	id, err := s.putChallenge(ctx, kindRegister, userID, challengeData{Session: *sd, Name: name})
	if err != nil {
		return "", nil, err
	}
	return id, creation, nil
}

// FinishRegistration verifies the authenticator's answer (the JSON of
// PublicKeyCredential.toJSON()) to challenge challengeID of userID and
// stores the passkey. It records a "passkey_added" event.
func (s *Service) FinishRegistration(ctx context.Context, a session.Audit, userID, challengeID string, answer []byte) (Info, error) {
	d, err := s.takeChallenge(ctx, challengeID, kindRegister, userID)
	if err != nil {
		return Info{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(answer)
	if err != nil {
		return Info{}, fmt.Errorf("%w: %s", ErrInvalid, describe(err))
	}
	u, list, err := s.loadUser(ctx, userID)
	if err != nil {
		return Info{}, err
	}
	if len(list) >= s.cfg.MaxPasskeys {
		return Info{}, ErrTooMany
	}
	c, err := s.wa.CreateCredential(u, d.Session, parsed)
	if err != nil {
		return Info{}, fmt.Errorf("%w: %s", ErrInvalid, describe(err))
	}
	data, err := json.Marshal(c)
	if err != nil {
		return Info{}, fmt.Errorf("passkey: encoding credential: %w", err)
	}
	p := &storage.Passkey{
		ID: rand.Text(), UserID: userID, CredentialID: c.ID, Name: d.Name, Data: data,
		SignCount: c.Authenticator.SignCount, BackupEligible: c.Flags.BackupEligible, BackupState: c.Flags.BackupState,
		CreatedAt: s.cfg.Clock(),
	}
	if err := s.cfg.Store.CreatePasskey(ctx, p); errors.Is(err, storage.ErrConflict) {
		return Info{}, fmt.Errorf("%w: this credential is already registered", ErrInvalid)
	} else if err != nil {
		return Info{}, fmt.Errorf("passkey: storing: %w", err)
	}
	s.cfg.Manager.SecurityLog().Record(ctx, a, userID, storage.EventPasskeyAdded, d.Name)
	return infoOf(p), nil
}

// describe is a short, safe text of a go-webauthn error.
func describe(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return pe.Details
	}
	return "the answer could not be verified"
}

// BeginLogin starts an assertion. With userID (a session that passed the
// password, or a signed-in one re-authenticating) it is a second factor
// over the user's credentials; with "" it is a sign-in without a username
// over discoverable credentials. User verification is required for the
// latter (the passkey is then both factors) and preferred for the former.
func (s *Service) BeginLogin(ctx context.Context, userID string) (string, *protocol.CredentialAssertion, error) {
	if userID == "" {
		assertion, sd, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
		if err != nil {
			return "", nil, fmt.Errorf("passkey: begin login: %w", err)
		}
		id, err := s.putChallenge(ctx, kindLogin, "", challengeData{Session: *sd})
		return id, assertion, err
	}
	u, _, err := s.loadUser(ctx, userID)
	if err != nil {
		return "", nil, err
	}
	if len(u.creds) == 0 {
		return "", nil, ErrNotFound
	}
	assertion, sd, err := s.wa.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return "", nil, fmt.Errorf("passkey: begin login: %w", err)
	}
	id, err := s.putChallenge(ctx, kindSecondFactor, userID, challengeData{Session: *sd})
	return id, assertion, err
}

// FinishLogin verifies an assertion (the JSON of
// PublicKeyCredential.toJSON()) for challenge challengeID and records the
// use. userID is the user of the second-factor ceremony, "" for a sign-in
// without a username; it returns the user the passkey belongs to. A
// counter that did not increase is [ErrCounter], recorded as a
// "passkey_counter_regressed" event and logged.
func (s *Service) FinishLogin(ctx context.Context, a session.Audit, userID, challengeID string, answer []byte) (string, error) {
	kind := kindSecondFactor
	if userID == "" {
		kind = kindLogin
	}
	d, err := s.takeChallenge(ctx, challengeID, kind, userID)
	if err != nil {
		return "", err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(answer)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrInvalid, describe(err))
	}
	var (
		stored *storage.Passkey
		cred   *webauthn.Credential
		u      *user
	)
	if userID == "" {
		var lookupErr error
		handler := func(rawID, handle []byte) (webauthn.User, error) {
			p, err := s.cfg.Store.GetPasskeyByCredentialID(ctx, rawID)
			if err != nil {
				lookupErr = err
				return nil, err
			}
			stored = p
			u, _, err = s.loadUser(ctx, p.UserID)
			if err != nil {
				lookupErr = err
				return nil, err
			}
			return u, nil
		}
		_, cred, err = s.wa.ValidatePasskeyLogin(handler, d.Session, parsed)
		if lookupErr != nil && !errors.Is(lookupErr, storage.ErrNotFound) {
			return "", fmt.Errorf("passkey: finding the credential: %w", lookupErr)
		}
	} else {
		var list []storage.Passkey
		if u, list, err = s.loadUser(ctx, userID); err != nil {
			return "", err
		}
		cred, err = s.wa.ValidateLogin(u, d.Session, parsed)
		for i := range list {
			if cred != nil && string(list[i].CredentialID) == string(cred.ID) {
				stored = &list[i]
			}
		}
	}
	if err != nil || stored == nil {
		return "", fmt.Errorf("%w: %s", ErrInvalid, describe(err))
	}
	owner := stored.UserID
	newCount := parsed.Response.AuthenticatorData.Counter
	if cred.Authenticator.CloneWarning {
		return "", s.counterRegressed(ctx, a, stored, newCount)
	}
	err = s.cfg.Store.RecordPasskeyUse(ctx, owner, stored.ID, newCount, cred.Flags.BackupState, s.cfg.Clock())
	switch {
	case errors.Is(err, storage.ErrConflict):
		return "", s.counterRegressed(ctx, a, stored, newCount)
	case errors.Is(err, storage.ErrNotFound):
		return "", fmt.Errorf("%w: the passkey was removed", ErrInvalid)
	case err != nil:
		return "", fmt.Errorf("passkey: recording the use: %w", err)
	}
	return owner, nil
}

func (s *Service) counterRegressed(ctx context.Context, a session.Audit, p *storage.Passkey, got uint32) error {
	detail := fmt.Sprintf("%s: counter %d after %d", p.Name, got, p.SignCount)
	s.cfg.Logger.Warn("passkey: signature counter did not increase; possible cloned key", "passkey", p.ID, "stored", p.SignCount, "got", got)
	s.cfg.Manager.SecurityLog().Record(ctx, a, p.UserID, storage.EventPasskeyCounterRegressed, detail)
	return ErrCounter
}
