package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
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
)

type user struct {
	ID       string
	Username string
	hash     []byte
}

// userStore keeps the example's accounts in memory. A real app has its own
// user table; sessionguard only needs a stable user ID.
type userStore struct {
	mu         sync.RWMutex
	byName     map[string]*user
	byID       map[string]*user
	dummyHash  []byte // compared against for unknown users: equal timing
	bcryptCost int
}

func newUserStore(cost int) (*userStore, error) {
	dummy, err := bcrypt.GenerateFromPassword([]byte("not a real password"), cost)
	if err != nil {
		return nil, err
	}
	return &userStore{byName: map[string]*user{}, byID: map[string]*user{}, dummyHash: dummy, bcryptCost: cost}, nil
}

func validateSignup(username, password string) error {
	if n := len(username); n < 3 || n > 32 || strings.Trim(username, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != "" {
		return errors.New("a username is 3 to 32 characters: lower-case letters, digits, '.', '_' or '-'")
	}
	if utf8.RuneCountInString(password) < minPassword || len(password) > maxPassword {
		return errors.New("a password is at least 8 characters (and at most 72 bytes)")
	}
	return nil
}

func (s *userStore) create(username, password string) (*user, error) {
	if err := validateSignup(username, password); err != nil {
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
	s.byName[username] = u
	s.byID[u.ID] = u
	return u, nil
}

// authenticate checks a password in constant time with respect to whether
// the user exists.
func (s *userStore) authenticate(username, password string) (*user, error) {
	s.mu.RLock()
	u := s.byName[username]
	s.mu.RUnlock()
	hash := s.dummyHash
	if u != nil {
		hash = u.hash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || u == nil {
		return nil, errBadCredentials
	}
	return u, nil
}

func (s *userStore) get(id string) (*user, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.byID[id]
	return u, ok
}
