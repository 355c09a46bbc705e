package tokenclient

import "fmt"

// ErrorKind is the kind of a tokenclient error (the C tokenclient_error_kind).
type ErrorKind int

const (
	KindInvalidArgument ErrorKind = 1 // NULL, invalid UTF-8, bad URL, bad option value
	KindKey             ErrorKind = 2 // key unreadable, or wrong type for the algorithm
	KindConfig          ErrorKind = 3 // missing credentials, method/credential mismatch
	KindTransport       ErrorKind = 4 // DNS, connect, TLS, timeout, too large
	KindOAuth           ErrorKind = 5 // the server answered an RFC 6749 §5.2 error
	KindHTTP            ErrorKind = 6 // non-2xx without a valid OAuth error body
	KindResponse        ErrorKind = 7 // 2xx but not a valid token response
	KindPanic           ErrorKind = 8 // a bug caught at the library boundary
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
