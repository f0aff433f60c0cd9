package session

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/sessionguard/sessionguard/internal/device"
	"github.com/sessionguard/sessionguard/storage"
)

// newDeviceScan bounds how many of the account's events a sign-in reads to
// decide whether its device is new (ten pages of MaxEventPage).
const newDeviceScan = 10 * MaxEventPage

// familiarTypes are the events that show the account itself used a device:
// completed sign-ins and proofs of a factor. Failed attempts (an attacker
// with the password but not the second factor) do not make a device
// familiar, nor does a sign-in still pending its second factor.
func familiar(e *storage.Event) bool {
	switch e.Type {
	case storage.EventSignedIn:
		return e.Detail != storage.AuthPendingSecondFactor.String()
	case storage.EventNewDeviceSignIn, storage.EventReauthenticated, storage.EventSecondFactorUsed, storage.EventRecoveryCodeUsed:
		return true
	}
	return false
}

// deviceKey is what makes two sign-ins "the same device and approximate
// place": the device label without version numbers (a browser update is
// not a new device) and the country (city-level GeoIP moves with mobile
// networks).
func deviceKey(deviceLabel, locationLabel string) string {
	var b strings.Builder
	for _, f := range strings.Fields(deviceLabel) {
		if strings.Trim(f, "0123456789.") == "" {
			continue
		}
		b.WriteString(f)
		b.WriteByte(' ')
	}
	b.WriteByte('|')
	if i := strings.LastIndex(locationLabel, ", "); i >= 0 {
		locationLabel = locationLabel[i+2:]
	}
	b.WriteString(locationLabel)
	return b.String()
}

// checkNewDevice reports whether the account signs in from a device and
// approximate location it has not used within Config.NewDeviceWindow,
// reading the account's security log (before the sign-in's own event is
// recorded). An account without any earlier completed sign-in (its first)
// is not alerted. A storage error is logged and reports false: the alert
// must not make a sign-in fail.
func (m *Manager) checkNewDevice(ctx context.Context, r *http.Request, userID string, now time.Time) bool {
	if m.cfg.NewDeviceWindow < 0 || r == nil {
		return false
	}
	a := m.activity(ctx, r, now)
	key := deviceKey(device.Label(a.Device), LocationLabel(a.Location))
	since := now.Add(-m.cfg.NewDeviceWindow)
	seen := false
	var before int64
	for read := 0; read < newDeviceScan; {
		page, err := m.cfg.Store.ListEvents(ctx, userID, before, MaxEventPage)
		if err != nil {
			m.cfg.Logger.Warn("session: reading the security log for a new-device check failed", "err", err)
			return false
		}
		for i := range page {
			e := &page[i]
			if !familiar(e) {
				continue
			}
			if e.At.Before(since) {
				return true // an older sign-in exists; none within the window matched
			}
			seen = true
			if deviceKey(e.Device, e.Location) == key {
				return false
			}
		}
		if len(page) < MaxEventPage {
			break
		}
		read += len(page)
		before = page[len(page)-1].ID
	}
	return seen
}
