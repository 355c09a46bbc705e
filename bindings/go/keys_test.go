package tokenclient_test

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
)

func parsePrivatePEM(text string) (crypto.Signer, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	return key.(crypto.Signer), nil
}
