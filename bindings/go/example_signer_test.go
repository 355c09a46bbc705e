package tokenclient_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"log"
	"strings"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

// Compiled, not run: the README's external signers.

// Client assertions signed by any crypto.Signer, such as a cloud KMS
// client's (here, a key in memory stands for it).
func ExampleClient_SetSigner() {
	signer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	c, err := tokenclient.New("https://login.example.com/oauth/token", "my-kms-service")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.SetSigner(signer, "", "kms-key-1"); err != nil { // "": ES256, from the P-256 key
		log.Fatal(err)
	}
	if _, err := c.ClientCredentials("read"); err != nil {
		log.Fatal(err) // a failing Sign is KindKey, with its message
	}
}

// A key inside an HSM, by its PKCS#11 URI: the library talks to the module.
func ExampleClient_SetPrivateKey_pkcs11() {
	c, err := tokenclient.New("https://login.example.com/oauth/token", "my-hsm-service")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	uri := "pkcs11:token=prod;object=client-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/hsm-pin"
	if err := c.SetPrivateKey(uri, tokenclient.KeyID("hsm-key-1")); err != nil {
		log.Fatal(err)
	}
	if err := c.SetDPoPKey(strings.Replace(uri, "object=client-key", "object=dpop-key", 1), ""); err != nil {
		log.Fatal(err)
	}
}
