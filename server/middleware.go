package server

import (
	"crypto/subtle"
	"net/http"
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

// routeTemplate returns the matched mux pattern without its method, or
// "unknown".
func routeTemplate(r *http.Request) string {
	p := r.Pattern
	if p == "" || p == "/" { // "/" is the 404/405 fallback
		return "unknown"
	}
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = p[i+1:]
	}
	return p
}

// instrument records ff_http_* for every request. It wraps the mux, so the
// route template is known once the mux has matched.
func (m *httpMetrics) instrument(next http.Handler) http.Handler {
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
		path, code := routeTemplate(r), strconv.Itoa(status)
		m.requests.WithLabelValues(method, path, code).Inc()
		m.duration.WithLabelValues(method, path, code).Observe(time.Since(start).Seconds())
	})
}

// requireToken enforces FF_API_TOKEN as a bearer token, compared in
// constant time, on every path but /healthz and /metrics.
func requireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isPublicPath(r) {
			next.ServeHTTP(w, r)
			return
		}
		got := []byte(r.Header.Get("Authorization"))
		if len(got) != len(want) || subtle.ConstantTimeCompare(got, want) != 1 {
			writeError(w, http.StatusUnauthorized, "missing or invalid Authorization header")
			return
		}
		next.ServeHTTP(w, r)
	})
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

// cors is the outermost layer, so preflights are answered before auth.
// A "*" anywhere in origins allows every origin; otherwise only the listed
// ones, with methods GET/POST/PUT and headers content-type (+authorization
// when a token is configured).
func cors(origins []string, withAuth bool, next http.Handler) http.Handler {
	any := slices.Contains(origins, "*")
	headers := "content-type"
	if withAuth || any {
		headers = "content-type, authorization"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && (any || slices.Contains(origins, origin))
		preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
		h := w.Header()
		if !any {
			h.Add("Vary", "Origin")
		}
		if allowed {
			if any {
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
		next.ServeHTTP(w, r)
	})
}
