package passkey_test

import (
	"fmt"
	"net/http"

	"github.com/sessionguard/sessionguard/passkey"
	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage/memory"
)

// ExampleNew mounts security keys and passkeys next to the session
// routes: POST /auth/passkeys/register/begin and the others.
func ExampleNew() {
	store := memory.New(memory.Options{})
	defer store.Close()
	keys, _ := session.GenerateKeyPair() // load yours from a secret store
	m, err := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys}})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	pk, err := passkey.New(passkey.Config{
		Manager: m, Store: store,
		RPID: "example.com", RPDisplayName: "Example", RPOrigins: []string{"https://example.com"},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/", m.Routes(pk))
	fmt.Println("passkeys mounted")
	// Output: passkeys mounted
}
