package server

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (read
// deadlines while an oversized body is discarded).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// httpMetrics are the ff_http_* series.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ff_http_requests_total", Help: "HTTP requests by method, route template and status.",
		}, []string{"method", "path", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ff_http_request_duration_seconds", Help: "HTTP request latency by method, route template and status.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "path", "status"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

var knownMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}

// routeTemplate returns a mux pattern without its method, or "unknown"
// for none and for "/" (the 404/405 fallback).
func routeTemplate(p string) string {
	if p == "" || p == "/" {
		return "unknown"
	}
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = p[i+1:]
	}
	return p
}

// instrument records ff_http_* for every request that gets past CORS, the
// 401s of requireToken included (as upstream: the metrics layer sits
// outside auth). A request the mux served carries its pattern; for one
// refused before the mux, the pattern is looked up.
func (m *httpMetrics) instrument(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		method := r.Method
		if !slices.Contains(knownMethods, method) {
			method = "OTHER"
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		pattern := r.Pattern
		if pattern == "" {
			_, pattern = mux.Handler(r)
		}
		path, code := routeTemplate(pattern), strconv.Itoa(status)
		m.requests.WithLabelValues(method, path, code).Inc()
		m.duration.WithLabelValues(method, path, code).Observe(time.Since(start).Seconds())
	})
}

// requireToken enforces FF_API_TOKEN as a bearer token, compared in
// constant time, on every path but /healthz and /metrics. The scheme is
// case-insensitive, as HTTP specifies (RFC 9110 §11.1).
func requireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isPublicPath(r) {
			next.ServeHTTP(w, r)
			return
		}
		got, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok || len(got) != len(want) || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			writeError(w, http.StatusUnauthorized, "missing or invalid Authorization header")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearerToken returns the credentials of an "Authorization: Bearer …"
// value: the scheme in any case, then one or more spaces.
func bearerToken(h string) (string, bool) {
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimLeft(rest, " "), true
}

// isPublicPath reports the paths served without the token: /healthz and
// /metrics (as upstream), and the dashboard's static page and assets,
// which hold no data; the dashboard's data (/ui/api/…) needs the token,
// which the page sends as a bearer header once given "#token=…".
func isPublicPath(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case p == "/healthz", p == "/metrics":
		return true
	case r.Method == http.MethodGet && (p == "/" || (strings.HasPrefix(p, "/ui/") && !strings.HasPrefix(p, "/ui/api/"))):
		return true
	}
	return false
}

// hostName is the Host header without its port, lower-cased, without a
// trailing dot and IPv6 brackets.
func hostName(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	return strings.ToLower(h)
}

// isLoopbackHost reports whether host (a Host header or URL host, with or
// without a port) is a loopback name or address: localhost, a name under
// .localhost (RFC 6761), 127.0.0.0/8 or ::1.
func isLoopbackHost(host string) bool {
	h := hostName(host)
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Unmap().IsLoopback()
}

// hostGuard refuses, with 403 and the envelope, a request whose Host is
// neither a loopback name or address nor listed in allowed (names or
// addresses, without ports; "*" allows all). It is the defence against DNS
// rebinding: a page on evil.example whose name is rebound to 127.0.0.1
// sends "Host: evil.example".
func hostGuard(allowed []string, next http.Handler) http.Handler {
	if slices.Contains(allowed, "*") {
		return next
	}
	names := make([]string, 0, len(allowed))
	for _, a := range allowed {
		names = append(names, hostName(a))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No Host at all (HTTP/1.0) is no browser's: rebinding needs a name.
		if r.Host == "" || isLoopbackHost(r.Host) || slices.Contains(names, hostName(r.Host)) {
			next.ServeHTTP(w, r)
			return
		}
		writeError(w, http.StatusForbidden, "host "+strconv.Quote(r.Host)+
			" is not allowed: this dev server answers loopback names only; add the name with --allowed-hosts or FF_ALLOWED_HOSTS")
	})
}

// safeMethod reports the methods that change nothing (RFC 9110 §9.2.1).
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// originPolicy decides which browser origins may call the API.
type originPolicy struct {
	any  bool     // "*": every origin
	list []string // FF_CORS_ORIGINS; nil means the defaults
}

// allows reports whether origin may call the server reached as host: the
// server's own origin always; then every origin for "*", the listed ones
// for a list, or loopback origins (http or https, any port) by default.
func (p originPolicy) allows(origin, host string) bool {
	if p.any {
		return true
	}
	if strings.EqualFold(origin, "http://"+host) || strings.EqualFold(origin, "https://"+host) {
		return true
	}
	if p.list != nil {
		return slices.Contains(p.list, origin)
	}
	rest, ok := strings.CutPrefix(origin, "http://")
	if !ok {
		rest, ok = strings.CutPrefix(origin, "https://")
	}
	return ok && rest != "" && !strings.ContainsAny(rest, "/?#@") && isLoopbackHost(rest)
}

// cors sits outside auth, so preflights are answered before it. A "*" in
// origins allows every origin, a list the listed ones; with no list only
// the server's own origin and loopback origins are allowed. Methods are
// GET/POST/PUT, headers content-type (+authorization when a token is
// configured). Unlike a plain CORS layer it also refuses, with 403, an
// unsafe request (not GET, HEAD or OPTIONS) that carries a disallowed
// Origin: a page elsewhere cannot fire the body-less POSTs (replay,
// revoke-lease, budget reset) that need no preflight. A disallowed GET
// is served without a grant, so the browser hides the answer.
func cors(origins []string, withAuth bool, next http.Handler) http.Handler {
	p := originPolicy{any: slices.Contains(origins, "*"), list: origins}
	headers := "content-type"
	if withAuth || p.any {
		headers = "content-type, authorization"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && p.allows(origin, r.Host)
		preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
		h := w.Header()
		if !p.any {
			h.Add("Vary", "Origin")
		}
		if allowed {
			if p.any {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
			}
		}
		if preflight {
			// Every preflight is answered here, before auth; a disallowed
			// origin gets no Access-Control-* grant and the browser refuses.
			if allowed {
				h.Set("Access-Control-Allow-Methods", "GET, POST, PUT")
				h.Set("Access-Control-Allow-Headers", headers)
				h.Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if origin != "" && !allowed && !safeMethod(r.Method) {
			writeError(w, http.StatusForbidden, "origin "+strconv.Quote(origin)+
				" is not allowed: set FF_CORS_ORIGINS to a comma list of origins (or * for any)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// canonicalPath answers 404 with an empty body, as ff-server (axum) does
// for a route it does not know, to a path that is not in its clean form
// (a doubled slash, a "." or ".." segment). Go's ServeMux would instead
// answer 307 to the cleaned path, and a client that follows it would send
// its POST body to another route than the one it named.
func canonicalPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		clean := path.Clean(p)
		if strings.HasSuffix(p, "/") && clean != "/" {
			clean += "/"
		}
		if p != "" && clean != p {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}
