package tokenclient

// #include "tokenclient.h"
import "C"

import "fmt"

// ErrorKind is the kind of a tokenclient error (the C tokenclient_error_kind).
type ErrorKind int

// The values are the header's TOKENCLIENT_ERROR_* constants.
const (
	KindInvalidArgument ErrorKind = C.TOKENCLIENT_ERROR_INVALID_ARGUMENT // NULL, invalid UTF-8, bad URL, bad option value
	KindKey             ErrorKind = C.TOKENCLIENT_ERROR_KEY              // key unreadable, or wrong type for the algorithm
	KindConfig          ErrorKind = C.TOKENCLIENT_ERROR_CONFIG           // missing credentials, method/credential mismatch
	KindTransport       ErrorKind = C.TOKENCLIENT_ERROR_TRANSPORT        // DNS, connect, TLS, timeout, too large
	KindOAuth           ErrorKind = C.TOKENCLIENT_ERROR_OAUTH            // the server answered an RFC 6749 §5.2 error
	KindHTTP            ErrorKind = C.TOKENCLIENT_ERROR_HTTP             // non-2xx without a valid OAuth error body
	KindResponse        ErrorKind = C.TOKENCLIENT_ERROR_RESPONSE         // 2xx but not a valid token response
	KindPanic           ErrorKind = C.TOKENCLIENT_ERROR_PANIC            // a bug caught at the library boundary
)

func (k ErrorKind) String() string {
	switch k {
	case KindInvalidArgument:
		return "invalid argument"
	case KindKey:
		return "key"
	case KindConfig:
		return "config"
	case KindTransport:
		return "transport"
	case KindOAuth:
		return "oauth"
	case KindHTTP:
		return "http"
	case KindResponse:
		return "response"
	case KindPanic:
		return "internal"
	}
	return fmt.Sprintf("kind %d", int(k))
}

// Error is every error tokenclient returns (an OAuth error wraps one).
// Its message never contains a secret, key, assertion or token.
type Error struct {
	Kind       ErrorKind
	Message    string
	HTTPStatus int // the HTTP status behind the error, 0 when none
}

func (e *Error) Error() string { return "tokenclient: " + e.Message }

// OAuthError is an RFC 6749 §5.2 error answered by the server. errors.As
// finds it, and also the *Error it wraps.
type OAuthError struct {
	Code        string // e.g. "invalid_client"
	Description string
	URI         string
	Status      int
	err         *Error
}

func (e *OAuthError) Error() string { return e.err.Error() }

// Unwrap returns the underlying *Error (Kind == KindOAuth).
func (e *OAuthError) Unwrap() error { return e.err }

func invalidArgument(msg string) error {
	return &Error{Kind: KindInvalidArgument, Message: msg}
}
