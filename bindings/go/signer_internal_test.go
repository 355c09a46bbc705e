package tokenclient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"runtime"
	"testing"
	"time"
	"weak"
)

// waitFor polls cond for up to 5 s: the library may call free_user_data
// on another thread, once the requests using a signer have ended.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

// The library's free_user_data releases every signer's handle, once: when
// the signer is replaced (by another signer, or other credentials), and on
// Close; a setter that fails releases the handle it made. Counted by
// liveSigners, and seen by the signers themselves, which nothing keeps
// alive once their handles are gone.
func TestSignerHandlesAreReleased(t *testing.T) {
	base := liveSigners.Load()
	live := func(want int64) func() bool { return func() bool { return liveSigners.Load()-base == want } }
	c, err := New("https://as.example.com/token", "signer-handles")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var signers []weak.Pointer[ecdsa.PrivateKey]
	newSigner := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, weak.Make(k))
		return k
	}
	if err := c.SetSigner(newSigner(), "", "one"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "SetSigner holds no handle", live(1))
	if _, err := c.CreateAssertion(); err != nil {
		t.Fatal(err)
	}
	if err := c.SetSigner(newSigner(), "", "two"); err != nil { // replaces the first
		t.Fatal(err)
	}
	waitFor(t, "the replaced signer's handle was not released", live(1))
	if err := c.SetDPoPSigner(newSigner(), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DPoPProof("GET", "https://api.example.com/", "", ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "SetDPoPSigner holds no handle", live(2))
	// Failures keep nothing: the library does not take the user data.
	if err := c.SetSigner(newSigner(), "", "bad\nkid"); err == nil {
		t.Fatal("a kid with a newline was taken")
	}
	if err := c.SetDPoPSigner(newSigner(), "ES384"); err == nil {
		t.Fatal("ES384 was taken for a P-256 key")
	}
	waitFor(t, "a failed setter kept a handle", live(2))
	// Other credentials replace the assertion signer.
	if err := c.SetClientSecret("a-secret", AuthClientSecretPost); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "SetClientSecret did not release the signer's handle", live(1))
	if err := c.SetSigner(newSigner(), "", "three"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "SetSigner holds no handle", live(2))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Close did not release the signers' handles", live(0))
	waitFor(t, "a signer is still referenced after its handle was released", func() bool {
		for _, w := range signers {
			if w.Value() != nil {
				return false
			}
		}
		return true
	})
	if n := len(signers); n != 6 {
		t.Fatalf("%d signers made, want 6", n)
	}
}
