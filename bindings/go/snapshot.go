package tokenclient

import (
	"sync/atomic"
	"time"
)

// The binding's snapshot of the tokens GetToken got (issue 23): for each
// scope, the token the library's cache last handed out and the time until
// which the cache keeps handing out that same token
// (tokenclient_token_fresh_for_ms). Until then GetToken returns it without
// a call into the library. When to refresh stays the library's decision:
// the snapshot only remembers its answer for as long as the library said
// it holds.
//
// The read path is one atomic load, a map lookup and a clock reading. The
// map is never written once published: a store copies it (copy on write),
// a drop replaces it with an empty one.

// tokenCache is a Client's snapshot. It is a value of its own, not part of
// the Client, so that the OnToken trampoline's handle can reach it without
// keeping the Client (and so its finalizer) alive.
type tokenCache struct {
	p atomic.Pointer[snapshot]
	// off: every GetToken goes to the library, so that a logger enabled
	// for debug records sees each cache.hit event (SetLogger).
	off atomic.Bool
}

type snapshot struct {
	// gen counts the drops. A GetToken stores what it got only if no drop
	// came between its reading gen and its store: a token read from the
	// library before an InvalidateToken (or a setter, or Close) is never
	// stored after it.
	gen    uint64
	closed bool
	tokens map[string]*cachedToken
	// The one entry when there is only one (the usual case: a client for
	// one scope), looked up without hashing.
	only *cachedToken
}

type cachedToken struct {
	scope string
	token *Token
	// Fresh until both of these: mono carries Go's monotonic reading, wall
	// has it stripped (Round(0)), so a comparison with it reads the wall
	// clock. The library judges freshness by both clocks, so does this.
	mono, wall time.Time
}

func newTokenCache() *tokenCache {
	tc := &tokenCache{}
	tc.p.Store(&snapshot{})
	return tc
}

// get returns the token of scope while it is fresh, else nil.
func (tc *tokenCache) get(scope string) *Token {
	if tc == nil { // a Client not made by New
		return nil
	}
	s := tc.p.Load()
	e := s.only
	if e == nil || e.scope != scope {
		if e = s.tokens[scope]; e == nil {
			return nil
		}
	}
	if now := time.Now(); now.Before(e.mono) && now.Before(e.wall) {
		return e.token
	}
	return nil
}

// generation is read before a call into the library whose result put may store.
func (tc *tokenCache) generation() uint64 {
	if tc == nil {
		return 0
	}
	return tc.p.Load().gen
}

// put stores token for scope, fresh until until, unless a drop came since
// gen was read.
func (tc *tokenCache) put(gen uint64, scope string, token *Token, until time.Time) {
	if tc == nil {
		return
	}
	e := &cachedToken{scope: scope, token: token, mono: until, wall: until.Round(0)}
	for {
		cur := tc.p.Load()
		if cur.gen != gen || cur.closed || tc.off.Load() {
			return
		}
		next := &snapshot{gen: gen, tokens: make(map[string]*cachedToken, len(cur.tokens)+1)}
		now := time.Now()
		for k, v := range cur.tokens {
			if now.Before(v.mono) && now.Before(v.wall) { // what is stale goes
				next.tokens[k] = v
			}
		}
		next.tokens[scope] = e
		if len(next.tokens) == 1 {
			next.only = e
		}
		if tc.p.CompareAndSwap(cur, next) {
			return
		}
	}
}

// bypass turns the snapshot off (on) before a drop: while off, nothing is stored.
func (tc *tokenCache) bypass(off bool) {
	if tc != nil {
		tc.off.Store(off)
	}
}

// drop forgets every token (all scopes); closed: for good.
func (tc *tokenCache) drop(closed bool) {
	if tc == nil {
		return
	}
	for {
		cur := tc.p.Load()
		if tc.p.CompareAndSwap(cur, &snapshot{gen: cur.gen + 1, closed: closed || cur.closed}) {
			return
		}
	}
}
