package tokenclient

// #include "tokenclient.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"time"
)

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
	KindCancelled       ErrorKind = C.TOKENCLIENT_ERROR_CANCELLED        // the call's context was done (the ...Context methods)
)

// String is the kind's name, e.g. "transport" or "cancelled"; "kind N" for
// a value the header does not define.
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
	case KindCancelled:
		return "cancelled"
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

// Error is "tokenclient: " and the message.
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

// Error is the message of the *Error it wraps.
func (e *OAuthError) Error() string { return e.err.Error() }

// Unwrap returns the underlying *Error (Kind == KindOAuth).
func (e *OAuthError) Unwrap() error { return e.err }

func invalidArgument(msg string) error {
	return &Error{Kind: KindInvalidArgument, Message: msg}
}

// contextError is the error of a ...Context call that its context ended:
// the library's *Error (KindCancelled, or KindTransport when the deadline
// ran out in the library first) beside the context's error, so that both
// errors.As(err, &e) with e an *Error and errors.Is(err, context.Canceled)
// (or context.DeadlineExceeded) hold.
type contextError struct {
	err error // the library's *Error
	ctx error // context.Canceled or context.DeadlineExceeded
}

// Error is the library's message, then the context's error in parentheses.
func (e *contextError) Error() string { return e.err.Error() + " (" + e.ctx.Error() + ")" }

// Unwrap gives both, for errors.Is and errors.As.
func (e *contextError) Unwrap() []error { return []error{e.err, e.ctx} }

// notStarted is the error of a ...Context call whose context was already
// done: no call into the library was made.
func notStarted(ctxErr error) error {
	return &contextError{
		err: &Error{Kind: KindCancelled, Message: "the call was not made: its context is done"},
		ctx: ctxErr,
	}
}

// deadlineSlack is how long before its context's deadline a call that
// timed out is taken to have run out of the context's time.
const deadlineSlack = 5 * time.Millisecond

// ended is a call's error, with the context's error beside it when the
// call failed because its context ended: the library said it was
// cancelled, or its deadline (the context's) ran out. Other failures are
// returned as they are, even if the context ended meanwhile.
func ended(ctx context.Context, err error) error {
	e, ok := err.(*Error)
	if !ok {
		return err
	}
	ctxErr := ctx.Err()
	switch e.Kind {
	case KindCancelled:
		if ctxErr == nil {
			ctxErr = context.Canceled // only the context's AfterFunc cancels
		}
	case KindTransport:
		// The library's deadline is the context's, rounded up to the ms,
		// but the transfer's timeout is the time left in whole ms, so a
		// request can time out up to about a millisecond before the
		// deadline: a timeout that close to it is the deadline's (the call
		// then returns once the context is done). A cancel makes the
		// library answer KindCancelled, so a transport error of a
		// cancelled context is a failure of its own.
		deadline, ok := ctx.Deadline()
		switch {
		case !ok:
			return err
		case ctxErr == nil:
			left := time.Until(deadline)
			if left > deadlineSlack {
				return err
			}
			if left > 0 {
				timer := time.NewTimer(left)
				select {
				case <-ctx.Done():
				case <-timer.C:
				}
				timer.Stop()
			}
			if ctxErr = ctx.Err(); ctxErr == nil {
				ctxErr = context.DeadlineExceeded
			}
		case !errors.Is(ctxErr, context.DeadlineExceeded):
			return err
		}
	default:
		return err
	}
	return &contextError{err: e, ctx: ctxErr}
}
