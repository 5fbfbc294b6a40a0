package server

// SetStreamWaitHook makes f run each time a tail starts waiting for a
// frame; set it before the server serves.
func SetStreamWaitHook(s *Server, f func()) { s.streams.waitHook = f }
