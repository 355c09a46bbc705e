package tokenclient

import (
	"io"
	"log/slog"
	"runtime/cgo"
	"testing"
)

// handleIn is the cgo.Handle a hook slot holds, 0 for none.
func handleIn[T ~uint64 | ~uint32 | ~uintptr](slot *T) cgo.Handle {
	if slot == nil {
		return 0
	}
	return cgo.Handle(*slot)
}

func released(h cgo.Handle) (gone bool) {
	defer func() { gone = recover() != nil }()
	h.Value()
	return false
}

// The logger's and OnToken's handles keep their values alive while set, and
// are deleted when replaced, removed, or the client is closed.
func TestHookHandlesAreReleased(t *testing.T) {
	c, err := New("https://as.example.com/token", "handles")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	debug := func() *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	first, second := debug(), debug()
	if err := c.SetLogger(first); err != nil {
		t.Fatal(err)
	}
	h1 := handleIn(c.logger)
	if h1 == 0 || h1.Value() != first {
		t.Fatal("SetLogger keeps no handle of the logger")
	}
	if err := c.SetLogger(second); err != nil {
		t.Fatal(err)
	}
	h2 := handleIn(c.logger)
	if !released(h1) || h2 == 0 || h2.Value() != second {
		t.Fatal("replacing the logger did not release the old handle for a new one")
	}
	if err := c.SetLogger(nil); err != nil {
		t.Fatal(err)
	}
	if !released(h2) || handleIn(c.logger) != 0 {
		t.Fatal("SetLogger(nil) did not release the handle")
	}
	// A logger enabled for nothing is not installed, so nothing is kept.
	if err := c.SetLogger(slog.New(slog.DiscardHandler)); err != nil || handleIn(c.logger) != 0 {
		t.Fatalf("a disabled logger was installed: %v", err)
	}
	if err := c.SetLogger(first); err != nil {
		t.Fatal(err)
	}
	if err := c.OnToken(func(*Token) {}); err != nil {
		t.Fatal(err)
	}
	h3, h4 := handleIn(c.logger), handleIn(c.hook)
	if h3 == 0 || h4 == 0 {
		t.Fatal("no handles kept")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !released(h3) || !released(h4) || handleIn(c.logger) != 0 || handleIn(c.hook) != 0 {
		t.Fatal("Close did not release the handles")
	}
}
