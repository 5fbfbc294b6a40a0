package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// getHost sends GET base+path with the given Host header.
func getHost(t *testing.T, base, path, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// runBinBounded is runBin for a command that must exit by itself: a serve
// that starts instead of refusing is killed after 30 s and fails the test.
func runBinBounded(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := binCmd(t, env, args...)
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return errb.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return errb.String(), 0
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v still running after 30s (it should have refused):\n%s", args, errb.String())
	}
	return "", 0
}

// A token no client could send is refused at start-up, before anything
// listens or opens.
func TestServeRefusesUnusableToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i, tok := range []string{" ", "\t \t", " padded "} {
		path := filepath.Join(dir, "tok"+string(rune('a'+i))+".db")
		errOut, code := runBinBounded(t, []string{"FF_API_TOKEN=" + tok}, "serve", "--db", path, "--listen", "127.0.0.1:0")
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		if code != exitUsage || len(lines) != 2 || !strings.HasPrefix(lines[0], "ffsqlite: invalid value for FF_API_TOKEN: ") ||
			!strings.HasPrefix(lines[1], "Try: ") {
			t.Fatalf("token %q: exit %d, stderr %q", tok, code, errOut)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("token %q: database created: %v", tok, err)
		}
	}
}

// Bound to loopback (the default), serve answers loopback Host names only,
// plus --allowed-hosts / FF_ALLOWED_HOSTS; it does not warn.
func TestServeLoopbackHostCheck(t *testing.T) {
	t.Parallel()
	p := startServe(t, nil, "--db", ":memory:", "--listen", "127.0.0.1:0")
	if status, _ := getHost(t, p.base, "/healthz", "localhost"); status != http.StatusOK {
		t.Fatalf("Host localhost: %d", status)
	}
	if status, body := getHost(t, p.base, "/healthz", "rebound.example"); status != http.StatusForbidden ||
		!strings.Contains(body, `is not allowed`) {
		t.Fatalf("Host rebound.example: %d %s", status, body)
	}
	if strings.Contains(p.stderr(), "open to the network") {
		t.Fatalf("loopback serve warned:\n%s", p.stderr())
	}
	for _, c := range []struct {
		env  []string
		args []string
	}{
		{nil, []string{"--allowed-hosts", "devbox.lan,other.test"}},
		{[]string{"FF_ALLOWED_HOSTS=devbox.lan"}, nil},
	} {
		p := startServe(t, c.env, append([]string{"--db", ":memory:", "--listen", "127.0.0.1:0"}, c.args...)...)
		if status, _ := getHost(t, p.base, "/healthz", "devbox.lan:9090"); status != http.StatusOK {
			t.Fatalf("%v %v: Host devbox.lan: %d", c.env, c.args, status)
		}
		if status, _ := getHost(t, p.base, "/healthz", "rebound.example"); status != http.StatusForbidden {
			t.Fatalf("%v %v: Host rebound.example: %d", c.env, c.args, status)
		}
	}
	_, errOut, code := runBin(t, nil, "serve", "--db", ":memory:", "--listen", "127.0.0.1:0", "--allowed-hosts", "http://x/")
	if code != exitUsage || !strings.Contains(errOut, "Try: ") {
		t.Fatalf("bad --allowed-hosts: exit %d %q", code, errOut)
	}
}

// Bound to every interface without a token: a WARN says the API is open
// to the network, the banner prints a URL that works (127.0.0.1, not
// 0.0.0.0 or [::]), and any Host is answered. With a token: no warning.
func TestServeWildcardBind(t *testing.T) {
	t.Parallel()
	for _, listen := range []string{"0.0.0.0:0", "[::]:0", ":0"} {
		t.Run(listen, func(t *testing.T) {
			t.Parallel()
			if ln, err := net.Listen("tcp", listen); err != nil {
				t.Skipf("cannot listen on %s here: %v", listen, err)
			} else {
				ln.Close()
			}
			p := startServe(t, nil, "--db", ":memory:", "--listen", listen)
			if !strings.HasPrefix(p.base, "http://127.0.0.1:") {
				t.Fatalf("banner URL %s, want http://127.0.0.1:PORT\n%s", p.base, p.stderr())
			}
			if !strings.Contains(p.stderr(), "level=WARN msg=\"the API is open to the network: listening on ") {
				t.Fatalf("no open-network WARN:\n%s", p.stderr())
			}
			if !strings.Contains(p.stderr(), "Listening:  ") {
				t.Fatalf("banner lacks the Listening line:\n%s", p.stderr())
			}
			if status, body := getHost(t, p.base, "/healthz", "devbox.lan"); status != http.StatusOK {
				t.Fatalf("Host devbox.lan on a wildcard bind: %d %s", status, body)
			}
		})
	}
	p := startServe(t, []string{"FF_API_TOKEN=tok"}, "--db", ":memory:", "--listen", "0.0.0.0:0")
	if strings.Contains(p.stderr(), "open to the network") {
		t.Fatalf("warned with a token:\n%s", p.stderr())
	}
}
