package server

import (
	"net"
	"net/http"
)

// Test access to the server's hooks; each must be set before the server
// serves (before Handler is mounted or Serve is called).

// SetClaimWaitHook makes f run each time a blocked worker claim starts
// waiting for work.
func SetClaimWaitHook(s *Server, f func()) { s.hooks.claimWait = f }

// SetConnStateHook installs f as the http.Server's ConnState callback for
// Serve.
func SetConnStateHook(s *Server, f func(net.Conn, http.ConnState)) { s.http.ConnState = f }
