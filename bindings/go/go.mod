module github.com/tokenclient/tokenclient/bindings/go

go 1.26.0

require golang.org/x/oauth2 v0.37.0

require github.com/golang-jwt/jwt/v5 v5.3.1

require github.com/miekg/pkcs11 v1.1.2 // the tests' crypto.Signer over a SoftHSM2 key
