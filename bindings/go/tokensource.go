package tokenclient

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"golang.org/x/oauth2"
)

// SourceOption configures TokenSource and TokenSourceContext.
type SourceOption func(*source)

// WithScope asks for scope on each request.
func WithScope(scope string) SourceOption { return func(s *source) { s.scope = scope } }

// WithRefreshToken makes the source use the refresh_token grant, starting
// from refreshToken and following rotation.
func WithRefreshToken(refreshToken string) SourceOption {
	return func(s *source) { s.refreshToken = refreshToken }
}

// TokenSource returns an oauth2.TokenSource backed by client credentials
// (or by a refresh token, see WithRefreshToken), caching tokens until
// shortly before expiry, so oauth2.NewClient(ctx, src) works. Its
// requests are not bounded by a context; TokenSourceContext's are, and
// share the client's cache.
func (c *Client) TokenSource(opts ...SourceOption) oauth2.TokenSource {
	s := &source{client: c, ctx: context.Background()}
	for _, o := range opts {
		o(s)
	}
	return oauth2.ReuseTokenSource(nil, s)
}

// TokenSourceContext returns an oauth2.TokenSource for oauth2.NewClient
// whose Token is GetTokenContext(ctx, scope): the client's cache decides
// when to refresh, its single flight makes one request for all callers,
// and a token still fresh comes from the binding's snapshot without a
// call into the library (no second cache in Go). ctx bounds every request
// the source makes, as in x/oauth2's own sources: once it is done, Token
// fails with its error.
//
// With WithRefreshToken the source follows a refresh-token chain of its
// own, which the client's cache does not hold: it then refreshes with
// RefreshContext(ctx, ...) and x/oauth2's ReuseTokenSource keeps the
// token, as TokenSource does. To share a refresh token through the
// client's cache instead, call SetRefreshToken and leave the option out.
func (c *Client) TokenSourceContext(ctx context.Context, opts ...SourceOption) oauth2.TokenSource {
	s := &source{client: c, ctx: ctx}
	for _, o := range opts {
		o(s)
	}
	if s.refreshToken != "" {
		return oauth2.ReuseTokenSource(nil, s)
	}
	return &cacheSource{client: c, ctx: ctx, scope: s.scope}
}

// cacheSource is TokenSourceContext's source without a refresh token.
type cacheSource struct {
	client *Client
	ctx    context.Context
	scope  string
	// The conversion of the token GetToken last returned: the snapshot
	// hands out the same *Token while it is fresh, so it is converted once.
	last atomic.Pointer[converted]
}

type converted struct {
	from *Token
	to   *oauth2.Token
}

// Token returns the client's token for the source's scope; the
// *oauth2.Token is shared by the callers that get it: do not modify it.
func (s *cacheSource) Token() (*oauth2.Token, error) {
	t, err := s.client.GetTokenContext(s.ctx, s.scope)
	if err != nil {
		return nil, err
	}
	if last := s.last.Load(); last != nil && last.from == t {
		return last.to, nil
	}
	ot, err := oauth2Token(t)
	if err != nil {
		return nil, err
	}
	s.last.Store(&converted{from: t, to: ot})
	return ot, nil
}

type source struct {
	client *Client
	ctx    context.Context
	scope  string

	mu           sync.Mutex
	refreshToken string
}

// Token makes a request each time: ReuseTokenSource calls it only when
// its token is no longer valid.
func (s *source) Token() (*oauth2.Token, error) {
	var (
		t   *Token
		err error
	)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refreshToken != "" {
		t, err = s.client.RefreshContext(s.ctx, s.refreshToken, s.scope)
		if err == nil && t.RefreshToken != "" {
			s.refreshToken = t.RefreshToken
		}
	} else {
		t, err = s.client.ClientCredentialsContext(s.ctx, s.scope)
	}
	if err != nil {
		return nil, err
	}
	return oauth2Token(t)
}

func oauth2Token(t *Token) (*oauth2.Token, error) {
	if t.AccessToken == "" {
		return nil, errors.New("tokenclient: empty access token")
	}
	ot := &oauth2.Token{
		AccessToken:  t.AccessToken,
		TokenType:    t.TokenType,
		RefreshToken: t.RefreshToken,
		Expiry:       t.Expiry,
	}
	return ot.WithExtra(map[string]any{"id_token": t.IDToken, "scope": t.Scope}), nil
}
