package clientip_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/sessionguard/sessionguard/internal/clientip"
)

// A load balancer at 10.0.0.1 forwards a request from 203.0.113.7, which
// tried to pass itself off as 198.51.100.1.
func ExampleResolver_ClientIP() {
	r := clientip.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, clientip.WithHeader(clientip.HeaderXForwardedFor))

	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.0.0.1:41234"
	req.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.7")
	fmt.Println(r.ClientIP(req))

	// The same header straight from the internet is not believed.
	req.RemoteAddr = "203.0.113.7:41234"
	fmt.Println(r.ClientIP(req))
	// Output:
	// 203.0.113.7
	// 203.0.113.7
}
