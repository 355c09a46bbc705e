module tokenclient/bench/go

go 1.26.0

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	tokenclient/bindings/go v0.0.0
)

require golang.org/x/oauth2 v0.37.0 // indirect

replace tokenclient/bindings/go => ../../bindings/go
