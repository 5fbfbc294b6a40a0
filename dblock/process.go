package dblock

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LockFileSuffix names the process lock's sidecar: DB + "-lock", beside
// SQLite's own -wal and -shm files. It is never deleted (a process may be
// about to lock it); it holds one JSON line per holder.
const LockFileSuffix = "-lock"

// LockFile returns the process lock's sidecar of the database file db.
func LockFile(db string) string { return db + LockFileSuffix }

// Holder is an ffsqlite process that holds the process lock.
type Holder struct {
	PID     int    `json:"pid"`
	Command string `json:"command"`
	// Addr is serve's listen address; empty for other commands.
	Addr string `json:"addr,omitempty"`
	// StartedAtMS is when it took the lock, Unix milliseconds.
	StartedAtMS int64 `json:"started_at_ms"`
	// Token tells two holders with one pid apart (tests run several in
	// one process).
	Token string `json:"token"`
}

func (h Holder) String() string {
	s := fmt.Sprintf("ffsqlite %s (pid %d", h.Command, h.PID)
	if h.Addr != "" {
		s += ", " + h.Addr
	}
	return s + ")"
}

// Me describes the calling process running command, listening on addr
// ("" for none).
func Me(command, addr string) Holder {
	var tok [8]byte
	_, _ = rand.Read(tok[:])
	return Holder{PID: os.Getpid(), Command: command, Addr: addr, StartedAtMS: time.Now().UnixMilli(), Token: hex.EncodeToString(tok[:])}
}

// BusyError says the process lock is held by other ffsqlite processes.
type BusyError struct {
	DB string
	// Holders are the live holders found in the lock file (empty when
	// the holder left no record, for example from another pid namespace).
	Holders []Holder
	// Exclusive is set when the holder is a destructive command (it holds
	// the lock exclusively) rather than a serve or scan.
	Exclusive bool
}

func (e *BusyError) Error() string {
	if len(e.Holders) == 0 {
		return fmt.Sprintf("%s is in use by another ffsqlite process (it holds %s)", e.DB, LockFile(e.DB))
	}
	names := make([]string, len(e.Holders))
	for i, h := range e.Holders {
		names[i] = h.String()
	}
	return fmt.Sprintf("%s is in use by %s", e.DB, strings.Join(names, " and "))
}

// Shared is a held shared process lock (serve, scan).
type Shared struct {
	db    string
	token string
	mu    sync.Mutex
	f     *os.File
}

// Share takes the process lock shared for me and records me in the lock
// file, returning the other live holders. It needs the migration lock
// (the records are only written under it) and never waits: while a
// destructive command holds the lock exclusively it fails with a
// *BusyError.
func (m *Migration) Share(me Holder) (*Shared, []Holder, error) {
	f, err := openLockFile(m.path)
	if err != nil {
		return nil, nil, err
	}
	var others []Holder
	alone, err := tryFlock(f, syscall.LOCK_EX)
	switch {
	case err != nil:
		f.Close()
		return nil, nil, err
	case alone:
		// Nobody holds it: whatever the file says is left over from
		// processes that died. Start afresh, then share.
		if err := writeHolders(f, nil); err != nil {
			f.Close()
			return nil, nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("process lock %s: %w", LockFile(m.path), err)
		}
	default:
		ok, err := tryFlock(f, syscall.LOCK_SH)
		if err != nil || !ok {
			if err == nil { // a destructive command holds it exclusively
				hs, _ := readHolders(f)
				err = &BusyError{DB: m.path, Holders: live(hs), Exclusive: true}
			}
			f.Close()
			return nil, nil, err
		}
		hs, err := readHolders(f)
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		others = live(hs)
	}
	if err := writeHolders(f, append(others, me)); err != nil {
		f.Close()
		return nil, nil, err
	}
	return &Shared{db: m.path, token: me.Token, f: f}, others, nil
}

// Release removes this holder's record (when the migration lock is free at
// once; otherwise the record stays and is pruned later, its pid being
// gone) and drops the lock. Releasing twice is a no-op.
func (s *Shared) Release() error {
	m, ok, err := TryLockMigration(s.db)
	if err == nil && ok {
		defer m.Release()
	}
	return s.release(err == nil && ok)
}

// release drops the lock, first removing the record when the caller holds
// the migration lock.
func (s *Shared) release(unrecord bool) error {
	s.mu.Lock()
	f := s.f
	s.f = nil
	s.mu.Unlock()
	if f == nil {
		return nil
	}
	if unrecord {
		if hs, err := readHolders(f); err == nil {
			kept := hs[:0]
			for _, h := range hs {
				if h.Token != s.token {
					kept = append(kept, h)
				}
			}
			_ = writeHolders(f, kept)
		}
	}
	return f.Close()
}

// ServingError is Register refusing a second serve of one file.
type ServingError struct {
	DB string
	// Holder is the serve already running.
	Holder Holder
}

func (e *ServingError) Error() string {
	return fmt.Sprintf("%s is already served by %s; a second writer process would contend with it for the file", e.DB, e.Holder)
}

// Register is how serve and scan announce themselves: it waits for the
// migration lock, takes the process lock shared for me and records me.
// With refuseServe, another live serve of db fails it with a
// *ServingError (and nothing is recorded). Release the result when the
// process stops using the file.
func Register(ctx context.Context, db string, me Holder, refuseServe bool) (*Shared, error) {
	m, err := LockMigration(ctx, db)
	if err != nil {
		return nil, err
	}
	defer m.Release()
	sh, others, err := m.Share(me)
	if err != nil {
		return nil, err
	}
	if refuseServe {
		for _, o := range others {
			if o.Command == "serve" {
				sh.release(true)
				return nil, &ServingError{DB: db, Holder: o}
			}
		}
	}
	return sh, nil
}

// Exclusive is a held exclusive process lock (a destructive command).
type Exclusive struct {
	mu sync.Mutex
	f  *os.File
}

// Exclusive takes the process lock exclusively, without waiting: when any
// other process holds it, it fails with a *BusyError naming them. It
// needs the migration lock, so no serve or scan can register meanwhile.
func (m *Migration) Exclusive() (*Exclusive, error) {
	f, err := openLockFile(m.path)
	if err != nil {
		return nil, err
	}
	ok, err := tryFlock(f, syscall.LOCK_EX)
	if err != nil {
		f.Close()
		return nil, err
	}
	if !ok {
		hs, _ := readHolders(f)
		f.Close()
		return nil, &BusyError{DB: m.path, Holders: live(hs)}
	}
	if err := writeHolders(f, nil); err != nil { // records of dead processes
		f.Close()
		return nil, err
	}
	return &Exclusive{f: f}, nil
}

// Release drops the lock; releasing twice is a no-op.
func (x *Exclusive) Release() error {
	x.mu.Lock()
	f := x.f
	x.f = nil
	x.mu.Unlock()
	if f == nil {
		return nil
	}
	return f.Close()
}

// Holders reads the live holders recorded for db without locking anything
// (for messages; nil when there is no lock file).
func Holders(db string) []Holder {
	f, err := os.Open(LockFile(db))
	if err != nil {
		return nil
	}
	defer f.Close()
	hs, _ := readHolders(f)
	return live(hs)
}

func openLockFile(db string) (*os.File, error) {
	f, err := os.OpenFile(LockFile(db), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open the process lock %s: %w", LockFile(db), err)
	}
	return f, nil
}

// tryFlock takes how (LOCK_EX or LOCK_SH) without waiting; false when
// another descriptor holds a conflicting lock.
func tryFlock(f *os.File, how int) (bool, error) {
	for {
		switch err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err {
		case nil:
			return true, nil
		case syscall.EWOULDBLOCK:
			return false, nil
		case syscall.EINTR:
			continue
		default:
			return false, fmt.Errorf("process lock %s: %w", f.Name(), err)
		}
	}
}

func readHolders(f *os.File) ([]Holder, error) {
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read the process lock %s: %w", f.Name(), err)
	}
	var hs []Holder
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var h Holder
		if json.Unmarshal(sc.Bytes(), &h) == nil && h.PID > 0 {
			hs = append(hs, h)
		}
	}
	return hs, nil
}

func writeHolders(f *os.File, hs []Holder) error {
	var buf bytes.Buffer
	for _, h := range hs {
		line, err := json.Marshal(h)
		if err != nil {
			return err
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("write the process lock %s: %w", f.Name(), err)
	}
	if _, err := f.WriteAt(buf.Bytes(), 0); err != nil {
		return fmt.Errorf("write the process lock %s: %w", f.Name(), err)
	}
	return nil
}

// live keeps the holders whose process still exists (a record left by a
// killed process is dropped: the kernel already released its lock).
func live(hs []Holder) []Holder {
	var out []Holder
	for _, h := range hs {
		if err := syscall.Kill(h.PID, 0); err == nil || errors.Is(err, syscall.EPERM) {
			out = append(out, h)
		}
	}
	return out
}
