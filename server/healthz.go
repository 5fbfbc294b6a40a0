package server

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/ffsqlite/ffsqlite/backend"
)

// healthBaseline is the database as the server found it at start (after
// serve migrated it): /healthz answers 503 once the file or its schema
// differ from it.
type healthBaseline struct {
	schemaVersion int64
	file          os.FileInfo // nil in memory
}

func newHealthBaseline(b *backend.Backend) (healthBaseline, error) {
	h, err := b.CheckHealth(context.Background())
	if err != nil {
		return healthBaseline{}, fmt.Errorf("health baseline: %w", err)
	}
	return healthBaseline{schemaVersion: h.SchemaVersion, file: h.File}, nil
}

// healthz answers 200 {"status":"ok"} after a real database ping and the
// cheap health checks; 503 with the envelope naming the problem when the
// database does not answer, its file was removed, replaced or overwritten,
// or its schema changed since start (another process migrated, reset or
// dropped it: the server's view of the schema is stale).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if err := s.unhealthy(r.Context()); err != "" {
		writeJSON(w, http.StatusServiceUnavailable, envelope{Error: err, Kind: "unavailable", Retryable: boolPtr(false)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// unhealthy returns why the database is not healthy, or "".
func (s *Server) unhealthy(ctx context.Context) string {
	if err := s.b.Ping(ctx); err != nil {
		return "backend op unavailable: ping" // upstream's text
	}
	h, err := s.b.CheckHealth(ctx)
	if err != nil {
		return "database unreadable: " + err.Error()
	}
	if s.health.file != nil && (h.File == nil || !os.SameFile(s.health.file, h.File)) {
		return fmt.Sprintf("database file %s was replaced since the server started: restart ffsqlite serve", s.b.Path())
	}
	if h.SchemaVersion != s.health.schemaVersion {
		return fmt.Sprintf("database schema changed since the server started (schema_version %d, was %d): "+
			"another process migrated or altered it; restart ffsqlite serve", h.SchemaVersion, s.health.schemaVersion)
	}
	return ""
}
