module tokenclient/bench/go

go 1.26.0

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	golang.org/x/oauth2 v0.37.0
	github.com/tokenclient/tokenclient/bindings/go v0.0.0
)

replace github.com/tokenclient/tokenclient/bindings/go => ../../bindings/go
