package tokenclient

import (
	"errors"
	"sync"

	"golang.org/x/oauth2"
)

// SourceOption configures TokenSource.
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
// shortly before expiry, so oauth2.NewClient(ctx, src) works.
func (c *Client) TokenSource(opts ...SourceOption) oauth2.TokenSource {
	s := &source{client: c}
	for _, o := range opts {
		o(s)
	}
	return oauth2.ReuseTokenSource(nil, s)
}

type source struct {
	client *Client
	scope  string

	mu           sync.Mutex
	refreshToken string
}

func (s *source) Token() (*oauth2.Token, error) {
	var (
		t   *Token
		err error
	)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refreshToken != "" {
		t, err = s.client.Refresh(s.refreshToken, s.scope)
		if err == nil && t.RefreshToken != "" {
			s.refreshToken = t.RefreshToken
		}
	} else {
		t, err = s.client.ClientCredentials(s.scope)
	}
	if err != nil {
		return nil, err
	}
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
