package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

const (
	demoUser     = "demo"
	demoPassword = "demo-password"
	// Passwords: at least 8 characters, up to 72 bytes (bcrypt's limit)
	// (NIST SP 800-63B §3.1.1.2).
	minPassword = 8
	maxPassword = 72
)

var (
	errBadCredentials = errors.New("wrong username or password")
	errUserExists     = errors.New("that username is taken")
	errBadUsername    = errors.New("a username is 3 to 32 characters: lower-case letters, digits, '.', '_' or '-'")
	errBadPassword    = errors.New("a password is at least 8 characters (and at most 72 bytes)")
)

type user struct {
	ID       string
	Username string
	hash     []byte
}

// userStore keeps the example's accounts. A real app has its own user
// table; sessionguard only needs a stable user ID. With a path, accounts
// are saved to that JSON file (bcrypt hashes only, mode 0600, replaced
// atomically on every change) and loaded again on start; without one they
// live in memory. It is safe for concurrent use.
type userStore struct {
	path       string
	bcryptCost int
	dummyHash  []byte // compared against for unknown users: equal timing

	mu     sync.RWMutex
	byName map[string]*user
	byID   map[string]*user
}

// userRecord is one account in the users file.
type userRecord struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Hash     string `json:"bcrypt"`
}

func newUserStore(path string, cost int) (*userStore, error) {
	dummy, err := bcrypt.GenerateFromPassword([]byte("not a real password"), cost)
	if err != nil {
		return nil, err
	}
	s := &userStore{path: path, bcryptCost: cost, dummyHash: dummy, byName: map[string]*user{}, byID: map[string]*user{}}
	if path == "" {
		return s, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	} else if err != nil {
		return nil, err
	}
	var records []userRecord
	if err := json.Unmarshal(b, &records); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	for _, rec := range records {
		if rec.ID == "" || rec.Username == "" || s.byName[rec.Username] != nil || s.byID[rec.ID] != nil {
			return nil, fmt.Errorf("reading %s: a malformed or duplicate account", path)
		}
		if _, err := bcrypt.Cost([]byte(rec.Hash)); err != nil {
			return nil, fmt.Errorf("reading %s: account %q: %w", path, rec.Username, err)
		}
		u := &user{ID: rec.ID, Username: rec.Username, hash: []byte(rec.Hash)}
		s.byName[u.Username], s.byID[u.ID] = u, u
	}
	return s, nil
}

func validateUsername(username string) error {
	if n := len(username); n < 3 || n > 32 || strings.Trim(username, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != "" {
		return errBadUsername
	}
	return nil
}

func validatePassword(password string) error {
	if !utf8.ValidString(password) || utf8.RuneCountInString(password) < minPassword || len(password) > maxPassword {
		return errBadPassword
	}
	return nil
}

func (s *userStore) create(username, password string) (*user, error) {
	if err := validateUsername(username); err != nil {
		return nil, err
	}
	if err := validatePassword(password); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.bcryptCost)
	if err != nil {
		return nil, err
	}
	var id [12]byte
	rand.Read(id[:])
	u := &user{ID: "u_" + base64.RawURLEncoding.EncodeToString(id[:]), Username: username, hash: hash}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byName[username]; ok {
		return nil, errUserExists
	}
	s.byName[username], s.byID[u.ID] = u, u
	if err := s.saveLocked(); err != nil {
		delete(s.byName, username)
		delete(s.byID, u.ID)
		return nil, err
	}
	return u, nil
}

// ensure creates the account unless the username exists, and returns it
// if it created it.
func (s *userStore) ensure(username, password string) (*user, error) {
	s.mu.RLock()
	_, ok := s.byName[username]
	s.mu.RUnlock()
	if ok {
		return nil, nil
	}
	u, err := s.create(username, password)
	if errors.Is(err, errUserExists) {
		return nil, nil
	}
	return u, err
}

// authenticate checks a password in constant time with respect to whether
// the user exists.
func (s *userStore) authenticate(username, password string) (*user, error) {
	s.mu.RLock()
	u := s.byName[username]
	var hash []byte
	if u != nil {
		hash = u.hash
	}
	s.mu.RUnlock()
	if u == nil {
		hash = s.dummyHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || u == nil {
		return nil, errBadCredentials
	}
	return u, nil
}

// setPassword replaces userID's password.
func (s *userStore) setPassword(userID, password string) error {
	if err := validatePassword(password); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.bcryptCost)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byID[userID]
	if !ok {
		return errBadCredentials
	}
	old := u.hash
	u.hash = hash
	if err := s.saveLocked(); err != nil {
		u.hash = old
		return err
	}
	return nil
}

func (s *userStore) get(id string) (*user, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.byID[id]
	if !ok {
		return nil, false
	}
	return &user{ID: u.ID, Username: u.Username}, true
}

// saveLocked writes every account to the users file. s.mu must be held.
func (s *userStore) saveLocked() error {
	if s.path == "" {
		return nil
	}
	records := make([]userRecord, 0, len(s.byID))
	for _, u := range s.byID {
		records = append(records, userRecord{ID: u.ID, Username: u.Username, Hash: string(u.hash)})
	}
	slices.SortFunc(records, func(a, b userRecord) int { return strings.Compare(a.Username, b.Username) })
	b, err := json.MarshalIndent(records, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.path, append(b, '\n')); err != nil {
		return fmt.Errorf("saving accounts: %w", err)
	}
	return nil
}
