package storage

import (
	"context"
	"time"
)

// EventType names a security event. The values are stable strings, safe to
// store and to show.
type EventType string

// The security events (SECURITY.md §22).
const (
	EventSignedIn              EventType = "signed_in"
	EventSignedOut             EventType = "signed_out"
	EventSessionRevoked        EventType = "session_revoked"
	EventSignedOutEverywhere   EventType = "signed_out_everywhere"
	EventOtherSessionsRevoked  EventType = "other_sessions_revoked"
	EventPasswordChanged       EventType = "password_changed"
	EventReauthenticated       EventType = "reauthenticated"
	EventSecondFactorEnabled   EventType = "second_factor_enabled"
	EventSecondFactorDisabled  EventType = "second_factor_disabled"
	EventSecondFactorUsed      EventType = "second_factor_used"
	EventRecoveryCodeUsed      EventType = "recovery_code_used"
	EventRecoveryCodesRenewed  EventType = "recovery_codes_regenerated"
	EventSecondFactorReplay    EventType = "second_factor_replay_rejected"
	EventSecondFactorLockout   EventType = "second_factor_locked_out"
	EventSecondFactorFailed    EventType = "second_factor_failed"
	EventAppAuthorized         EventType = "app_authorized"
	EventAppRevoked            EventType = "app_revoked"
	EventAllSessionsRevokedAdm EventType = "all_sessions_revoked"
	// EventNewDeviceSignIn: a completed sign-in from a device and
	// approximate location the account has not used recently (its Device,
	// Location, IP and At say which and when).
	EventNewDeviceSignIn EventType = "new_device_sign_in"
	// EventDeviceBound: the session was bound to its device's key (DBSC);
	// Detail is the key's thumbprint.
	EventDeviceBound EventType = "device_bound"
	// EventDeviceProofFailed: a device-binding registration or refresh
	// was refused; Detail says why.
	EventDeviceProofFailed EventType = "device_proof_failed"
	// EventSessionLimitReached: a sign-in beyond the per-user session
	// limit ended the least recently used session (SessionHandle).
	EventSessionLimitReached     EventType = "session_ended_by_limit"
	EventPasswordLockout         EventType = "password_locked_out"
	EventSecondFactorSkipped     EventType = "second_factor_skipped"
	EventPasskeyAdded            EventType = "passkey_added"
	EventPasskeyRemoved          EventType = "passkey_removed"
	EventPasskeyCounterRegressed EventType = "passkey_counter_regressed"
	EventBrowserTrusted          EventType = "browser_trusted"
	EventTrustedBrowserRevoked   EventType = "trusted_browser_revoked"
	EventTrustedBrowsersRevoked  EventType = "trusted_browsers_revoked"
)

// Event is one entry of a user's security log. It never holds a secret:
// no token, no code, no password.
type Event struct {
	// ID is assigned by the store on append; IDs increase in append order
	// within a store and serve as the pagination cursor.
	ID            int64
	UserID        string
	Type          EventType
	At            time.Time
	SessionHandle string // the session that acted or was acted on, if any
	IP            string
	Device        string // human device label, e.g. "Chrome 131 on macOS"
	Location      string // human location label, e.g. "Lisbon, Portugal"
	Detail        string // short, non-secret detail (app name, count)
	// Actor names who acted when it was not the user: an administrator
	// or a back-office tool. Empty: the user (or the system). Backends
	// that predate the field may not keep it.
	Actor string
}

// EventStore keeps security events.
type EventStore interface {
	// AppendEvent stores e and sets e.ID.
	AppendEvent(ctx context.Context, e *Event) error

	// ListEvents returns up to limit of userID's events with ID < before
	// (before <= 0: from the newest), newest (highest ID) first. Paging
	// with the last returned ID as the next before is stable under
	// concurrent appends.
	ListEvents(ctx context.Context, userID string, before int64, limit int) ([]Event, error)

	// DeleteEventsBefore removes events older than t (retention) and
	// returns how many.
	DeleteEventsBefore(ctx context.Context, t time.Time) (int, error)
}
