package server

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// net/http answers a request it cannot parse (a path with "%ZZ", a
// malformed header line, an oversized header) itself, before any handler
// runs, with a plain-text body written straight to the connection. The
// envelope listener rewrites exactly those answers into the JSON
// envelope every other error uses. They are recognisable byte for byte:
// net/http writes them in one Write, with Content-Type before Connection
// and no other header, an order its header writer never produces.
var rawHTTPError = regexp.MustCompile(`\AHTTP/1\.1 ([0-9]{3}) [^\r\n]*\r\n` +
	`Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n([^\r\n]*)\z`)

// envelopeListener wraps accepted connections in envelopeConn.
type envelopeListener struct{ net.Listener }

func (l envelopeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return envelopeConn{c}, nil
}

// envelopeConn is a connection whose raw net/http error answers become
// JSON envelopes.
type envelopeConn struct{ net.Conn }

// rawErrorHeaders is the header block only net/http's own error answers
// have, checked before the regexp so ordinary writes cost two byte
// comparisons.
var rawErrorHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

func (c envelopeConn) Write(p []byte) (int, error) {
	if !bytes.HasPrefix(p, []byte("HTTP/1.1 ")) || !bytes.Contains(p, rawErrorHeaders) {
		return c.Conn.Write(p)
	}
	m := rawHTTPError.FindSubmatch(p)
	if m == nil {
		return c.Conn.Write(p)
	}
	code, _ := strconv.Atoi(string(m[1]))
	if _, err := io.WriteString(c.Conn, rawErrorResponse(code, string(m[2]))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CloseWrite keeps net/http's graceful close (FIN, then wait) working
// through the wrapper.
func (c envelopeConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// rawErrorResponse is the whole HTTP response for a request net/http
// refused: the same status, the envelope naming the problem.
func rawErrorResponse(code int, text string) string {
	msg := strings.TrimPrefix(text, strconv.Itoa(code)+" "+http.StatusText(code))
	switch {
	case strings.HasPrefix(msg, ": "): // "400 Bad Request: missing required Host header"
		msg = msg[2:]
	case msg == "" && code == http.StatusBadRequest:
		// net/http gives no detail for a request line it cannot parse.
		msg = "malformed HTTP request: bad request line, path escape (e.g. %ZZ) or header"
	case msg == "":
		msg = strings.ToLower(http.StatusText(code))
	default: // "Unsupported transfer encoding"
		msg = strings.ToLower(msg)
	}
	body := encodeJSON(envelope{Error: msg})
	return fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, http.StatusText(code), len(body), body)
}
