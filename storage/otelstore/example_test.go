package otelstore_test

import (
	"fmt"
	"log"

	"github.com/sessionguard/sessionguard/storage/memory"
	"github.com/sessionguard/sessionguard/storage/otelstore"
)

// Wrap a store once and pass the wrapped store to session.Config and
// totp.Config, so that the second factor's storage calls are measured too
// (session.New does not wrap it again). The zero Options use the global
// providers.
func ExampleNew() {
	raw := memory.New(memory.Options{})
	store, err := otelstore.New(raw, otelstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // closes raw
	fmt.Println(store.Backend())
	// Output: memory
}
