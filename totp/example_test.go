package totp_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	otptotp "github.com/pquerna/otp/totp"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage/memory"
	"github.com/sessionguard/sessionguard/totp"
)

// newService sets up a Manager and a Service on an in-memory store. In
// production, load the keys from a secret store: never generate them at
// start-up, or every restart loses every secret.
func newService() (*session.Manager, *totp.Service) {
	store := memory.New(memory.Options{})
	pair, err := session.GenerateKeyPair()
	if err != nil {
		log.Fatal(err)
	}
	mgr, err := session.New(session.Config{Store: store, Keys: []session.KeyPair{pair}})
	if err != nil {
		log.Fatal(err)
	}
	key := make([]byte, totp.KeySize)
	rand.Read(key)
	svc, err := totp.New(totp.Config{
		Manager: mgr,
		Store:   store,
		Issuer:  "Example",
		AccountName: func(ctx context.Context, userID string) (string, error) {
			return userID + "@example.com", nil // look up the e-mail address
		},
		Keys: []totp.Key{{ID: "2026-01", Secret: key}},
	})
	if err != nil {
		log.Fatal(err)
	}
	return mgr, svc
}

func Example() {
	_, svc := newService()
	ctx := context.Background()

	// The user starts enrollment and scans en.QRPNG (or types en.Secret).
	en, err := svc.Enroll(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	// Their authenticator app shows a code; they type it in.
	code, _ := otptotp.GenerateCode(en.Secret, time.Now())
	recoveryCodes, err := svc.Confirm(ctx, session.Audit{}, "alice", code)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("recovery codes to show once:", len(recoveryCodes))

	st, _ := svc.Status(ctx, "alice")
	fmt.Printf("enabled: %v, recovery codes left: %d\n", st.Enabled, st.RecoveryCodesLeft)

	// The code that confirmed enrollment cannot be used again (RFC 6238 §5.2).
	err = svc.Verify(ctx, session.Audit{}, "alice", code)
	fmt.Println("same code again:", errors.Is(err, totp.ErrInvalidCode))

	// A recovery code works once.
	fmt.Println("recovery code:", svc.VerifyRecoveryCode(ctx, session.Audit{}, "alice", recoveryCodes[0]))
	err = svc.VerifyRecoveryCode(ctx, session.Audit{}, "alice", recoveryCodes[0])
	fmt.Println("same recovery code again:", errors.Is(err, totp.ErrInvalidCode))
	// Output:
	// recovery codes to show once: 10
	// enabled: true, recovery codes left: 10
	// same code again: true
	// recovery code: <nil>
	// same recovery code again: true
}

func ExampleService_RegisterRoutes() {
	mgr, svc := newService()
	mux := http.NewServeMux()
	mux.Handle("/auth/", mgr.Routes(svc)) // the Manager's routes and the second factor's
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the user's password, then:
		pending, err := svc.SignIn(w, r, "alice")
		if err != nil {
			http.Error(w, "sign-in failed", http.StatusServiceUnavailable)
			return
		}
		if pending {
			// Ask for the code; the page posts it to /auth/totp/verify.
			fmt.Fprintln(w, "enter your code")
			return
		}
		fmt.Fprintln(w, "welcome")
	})
	handler := mgr.Handler(mux) // the session middleware in front of everything

	w := httptest.NewRecorder()
	handler.ServeHTTP(w, httptest.NewRequest("GET", "https://example.com/auth/totp", nil))
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// 401 {"error":"unauthenticated","message":"Please sign in."}
}

func ExampleService_SignIn() {
	_, svc := newService()
	ctx := context.Background()
	en, _ := svc.Enroll(ctx, "alice")
	code, _ := otptotp.GenerateCode(en.Secret, time.Now())
	if _, err := svc.Confirm(ctx, session.Audit{}, "alice", code); err != nil {
		log.Fatal(err)
	}

	// After the password check: alice has a second factor, so the new
	// session is pending until POST /totp/verify.
	w := httptest.NewRecorder()
	pending, err := svc.SignIn(w, httptest.NewRequest("POST", "https://example.com/login", nil), "alice")
	fmt.Println(pending, err, len(w.Result().Cookies()))
	// Output:
	// true <nil> 1
}
