package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/server"
	"github.com/ffsqlite/ffsqlite/suspension"
)

var waitSecret = []byte("0123456789abcdef0123456789abcdef")

// waitAPI is a server over a fresh file database with waitpoint key k1.
func waitAPI(t testing.TB) *api {
	t.Helper()
	a, _ := fileAPI(t, server.Config{})
	if _, err := a.b.SeedWaitpointSecret(context.Background(), "k1", waitSecret); err != nil {
		t.Fatal(err)
	}
	return a
}

// suspendBody is a worker suspend request on one fresh waitpoint.
func suspendBody(handle string, susp, wp uuid.UUID, key string, cond string, extra string) string {
	return `{"handle":"` + handle + `","suspension_id":"` + susp.String() + `",` +
		`"waitpoints":[{"Fresh":{"waitpoint_id":"` + wp.String() + `","waitpoint_key":"` + key + `"}}],` +
		`"resume_condition":` + cond + `,` +
		`"resume_policy":{"resume_target":"Runnable","consume_matched_signals":true,"retain_signal_buffer_until_closed":false,"close_waitpoint_on_resume":true},` +
		`"reason_code":"WaitingForApproval","requested_by":"Worker","timeout_behavior":"Fail","now":0` + extra + `}`
}

// signalBody is a route-9 body; extra is appended inside the object.
func signalBody(id backend.ExecutionID, wp uuid.UUID, sig uuid.UUID, name, token, extra string) string {
	return `{"execution_id":"` + id.String() + `","waitpoint_id":"` + wp.String() + `","signal_id":"` + sig.String() +
		`","signal_name":"` + name + `","signal_category":"human_review","source_type":"human","source_identity":"alice",` +
		`"target_scope":"execution","waitpoint_token":"` + token + `","now":0` + extra + `}`
}

// The whole durable wait over HTTP, byte for byte: suspend, route 5, 6, 9,
// the resumed claim with its signals, complete.
func TestSignalRoundTripHTTP(t *testing.T) {
	t.Parallel()
	a := waitAPI(t)
	id := a.create(0, nil)
	raw := a.do("POST", "/v1/worker/claim", claimArgs(nil))
	if raw.status != http.StatusOK || !strings.HasSuffix(raw.body, `,"resumed":false}`) || strings.Contains(raw.body, `"signals"`) {
		t.Fatalf("claim = %d %s", raw.status, raw.body)
	}
	var l wireLease
	raw.decode(t, &l)

	susp, wp := uuid.New(), uuid.New()
	key := "wpk:" + wp.String()
	cond := `{"Single":{"waitpoint_key":"` + key + `","matcher":{"ByName":"approve"}}}`
	r := a.do("POST", "/v1/worker/suspend", suspendBody(l.Handle, susp, wp, key, cond, `,"timeout_at":`+ms(epoch+3_600_000)))
	tok := suspension.MintWaitpointToken(waitSecret, "k1", id.String(), wp.String())
	var out struct {
		Suspended struct {
			Details json.RawMessage `json:"details"`
			Handle  string          `json:"handle"`
		} `json:"Suspended"`
	}
	r.decode(t, &out)
	wantDetails := `{"suspension_id":"` + susp.String() + `","waitpoint_id":"` + wp.String() + `","waitpoint_key":"` + key +
		`","waitpoint_token":"` + tok + `","additional_waitpoints":[]}`
	if r.status != http.StatusOK || string(out.Suspended.Details) != wantDetails || out.Suspended.Handle == "" ||
		r.body != `{"Suspended":{"details":`+wantDetails+`,"handle":"`+out.Suspended.Handle+`"}}` {
		t.Fatalf("suspend = %d %s", r.status, r.body)
	}
	a.do("GET", ep(id)+"/state", nil).wantJSON(t, http.StatusOK, `"suspended"`)

	// Route 5: no raw token, the kid and a 16-char fingerprint.
	_, digest, _ := suspension.SplitToken(tok)
	a.do("GET", ep(id)+"/pending-waitpoints", nil).wantJSON(t, http.StatusOK, `[{"waitpoint_id":"`+wp.String()+
		`","waitpoint_key":"`+key+`","state":"active","required_signal_names":["approve"],"created_at":`+ms(epoch)+
		`,"activated_at":`+ms(epoch)+`,"expires_at":`+ms(epoch+3_600_000)+`,"execution_id":"`+id.String()+
		`","token_kid":"k1","token_fingerprint":"`+digest[:16]+`"}]`)
	a.do("GET", ep(backend.NewExecutionID(0))+"/pending-waitpoints", nil).wantJSON(t, http.StatusNotFound, `{"error":"not found: execution"}`)
	// The dashboard's list: the same row with its execution's state, no token.
	a.do("GET", "/ui/api/waits", nil).wantJSON(t, http.StatusOK, `{"now_ms":`+ms(epoch)+`,"waitpoints":[{"execution_id":"`+id.String()+
		`","public_state":"suspended","waitpoint_id":"`+wp.String()+`","waitpoint_key":"`+key+`","state":"active","token_kid":"k1",`+
		`"token_fingerprint":"`+digest[:16]+`","required_signal_names":["approve"],"signal_count":0,"expires_at_ms":`+ms(epoch+3_600_000)+`}]}`)
	// Route 6: the raw token, never cached, also on the 404.
	r = a.do("GET", ep(id)+"/waitpoints/"+wp.String()+"/token", nil)
	r.wantJSON(t, http.StatusOK, `{"token":"`+tok+`"}`)
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control = %q", r.header.Get("Cache-Control"))
	}
	r = a.do("GET", ep(id)+"/waitpoints/"+uuid.NewString()+"/token", nil)
	r.wantJSON(t, http.StatusNotFound, `{"error":"waitpoint token not found (consumed, expired, or unknown id)"}`)
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatal("no Cache-Control on the 404")
	}
	a.do("GET", ep(id)+"/waitpoints/nope/token", nil).wantJSON(t, http.StatusBadRequest, `{"error":"waitpoint_id: invalid UUID: nope"}`)

	// Route 9: refusals first.
	flipped := tok[:len(tok)-1] + map[bool]string{true: "0", false: "1"}[tok[len(tok)-1] != '0']
	a.do("POST", ep(id)+"/signal", signalBody(id, wp, uuid.New(), "approve", flipped, "")).
		wantJSON(t, http.StatusBadRequest, `{"error":"invalid_token"}`)
	a.do("POST", ep(id)+"/signal", signalBody(id, wp, uuid.New(), "approve", "", "")).
		wantJSON(t, http.StatusBadRequest, `{"error":"missing_token"}`)
	a.do("POST", ep(id)+"/signal", signalBody(id, uuid.New(), uuid.New(), "approve", tok, "")).
		wantJSON(t, http.StatusBadRequest, `{"error":"invalid_token"}`)
	other := backend.NewExecutionID(0)
	a.do("POST", ep(other)+"/signal", signalBody(other, wp, uuid.New(), "approve", tok, "")).
		wantJSON(t, http.StatusNotFound, `{"error":"not found: execution"}`)
	a.do("POST", ep(other)+"/signal", signalBody(id, wp, uuid.New(), "approve", tok, "")).
		wantJSON(t, http.StatusBadRequest, `{"error":"path execution_id does not match body execution_id"}`)
	a.do("POST", ep(id)+"/signal", strings.Replace(signalBody(id, wp, uuid.New(), "approve", tok, ""), `"now":0`, `"nowx":0`, 1)).
		wantJSON(t, http.StatusUnprocessableEntity, `{"error":"invalid JSON: Unprocessable Entity"}`)
	a.do("POST", ep(id)+"/signal", strings.Replace(signalBody(id, wp, uuid.New(), "approve", tok, ""), wp.String(), "not-a-uuid", 1)).
		wantJSON(t, http.StatusUnprocessableEntity, `{"error":"invalid JSON: Unprocessable Entity"}`)
	// A non-matching signal, then the one that resumes.
	s1 := uuid.New()
	a.do("POST", ep(id)+"/signal", signalBody(id, wp, s1, "reject", tok, `,"idempotency_key":"once"`)).
		wantJSON(t, http.StatusOK, `{"Accepted":{"signal_id":"`+s1.String()+`","effect":"no_op"}}`)
	a.do("POST", ep(id)+"/signal", signalBody(id, wp, uuid.New(), "approve", tok, `,"idempotency_key":"once"`)).
		wantJSON(t, http.StatusOK, `{"Duplicate":{"existing_signal_id":"`+s1.String()+`"}}`)
	s2 := uuid.New()
	a.do("POST", ep(id)+"/signal", signalBody(id, wp, s2, "approve", tok, `,"payload":[123,125],"correlation_id":"c-9"`)).
		wantJSON(t, http.StatusOK, `{"Accepted":{"signal_id":"`+s2.String()+`","effect":"resume_condition_satisfied"}}`)
	a.do("GET", ep(id)+"/state", nil).wantJSON(t, http.StatusOK, `"waiting"`)
	a.do("GET", ep(id)+"/pending-waitpoints", nil).wantJSON(t, http.StatusOK, `[]`)
	a.do("GET", ep(id)+"/waitpoints/"+wp.String()+"/token", nil).wantJSON(t, http.StatusOK, `{"token":"`+tok+`"}`)
	a.do("POST", ep(id)+"/signal", signalBody(id, wp, uuid.New(), "approve", tok, "")).wantJSON(t, http.StatusConflict,
		`{"error":"state_conflict: TargetNotSignalable","kind":"state_conflict","retryable":false}`)

	// The resumed claim carries the signals.
	raw = a.do("POST", "/v1/worker/claim", claimArgs(nil))
	var rl struct {
		wireLease
		AttemptID string          `json:"attempt_id"`
		Resumed   bool            `json:"resumed"`
		Signals   json.RawMessage `json:"signals"`
	}
	raw.decode(t, &rl)
	wantSignals := `[{"signal_id":"` + s2.String() + `","signal_name":"approve","signal_category":"human_review","source_type":"human",` +
		`"source_identity":"alice","correlation_id":"c-9","accepted_at":` + ms(epoch) + `,"payload":[123,125]}]`
	if !rl.Resumed || rl.AttemptIndex != l.AttemptIndex || rl.LeaseEpoch != l.LeaseEpoch+1 || string(rl.Signals) != wantSignals ||
		!strings.HasSuffix(raw.body, `,"resumed":true,"signals":`+wantSignals+`}`) {
		t.Fatalf("resumed claim = %s", raw.body)
	}
	a.do("POST", "/v1/worker/signals", map[string]any{"handle": rl.Handle}).wantJSON(t, http.StatusOK, `{"signals":`+wantSignals+`}`)
	// The first handle and the suspended handle are fenced.
	for _, h := range []string{l.Handle, out.Suspended.Handle} {
		r := a.do("POST", "/v1/worker/signals", map[string]any{"handle": h})
		if r.status != http.StatusConflict || !strings.HasPrefix(r.body, `{"error":"stale_lease: `) {
			t.Fatalf("stale observe = %d %s", r.status, r.body)
		}
	}
	a.complete(&rl.wireLease, []int{111, 107}).wantJSON(t, http.StatusOK, `"Completed"`)
	a.do("GET", ep(id)+"/state", nil).wantJSON(t, http.StatusOK, `"completed"`)
}

// Pending waitpoints, delay, cancel and operator resume over HTTP.
func TestWorkerWaitRoutes(t *testing.T) {
	t.Parallel()
	a := waitAPI(t)
	id := a.create(0, nil)
	l := a.claim(nil)
	r := a.do("POST", "/v1/worker/waitpoints", map[string]any{"handle": l.Handle, "waitpoint_key": "approval", "expires_in_ms": 60000})
	var pw struct {
		WaitpointID    string `json:"waitpoint_id"`
		WaitpointKey   string `json:"waitpoint_key"`
		WaitpointToken string `json:"waitpoint_token"`
		ExpiresAtMS    int64  `json:"expires_at_ms"`
	}
	r.decode(t, &pw)
	if r.status != http.StatusOK || r.body != `{"waitpoint_id":"`+pw.WaitpointID+`","waitpoint_key":"approval","waitpoint_token":"`+
		suspension.MintWaitpointToken(waitSecret, "k1", id.String(), pw.WaitpointID)+`","expires_at_ms":`+ms(epoch+60000)+`}` {
		t.Fatalf("create waitpoint = %d %s", r.status, r.body)
	}
	a.do("POST", "/v1/worker/waitpoints", map[string]any{"handle": l.Handle, "waitpoint_key": "", "expires_in_ms": 1}).
		wantJSON(t, http.StatusBadRequest, `{"error":"invalid_input: waitpoint_key: must not be empty"}`)
	wpID := uuid.MustParse(pw.WaitpointID)
	sig := uuid.New()
	a.do("POST", ep(id)+"/signal", signalBody(id, wpID, sig, "approve", pw.WaitpointToken, "")).
		wantJSON(t, http.StatusOK, `{"Accepted":{"signal_id":"`+sig.String()+`","effect":"buffered_for_pending_waitpoint"}}`)
	// A UsePending suspend already satisfied keeps the lease.
	susp := uuid.New()
	body := `{"handle":"` + l.Handle + `","suspension_id":"` + susp.String() + `","waitpoints":[{"UsePending":{"waitpoint_id":"` + pw.WaitpointID + `"}}],` +
		`"resume_condition":{"Single":{"waitpoint_key":"approval","matcher":"Wildcard"}},` +
		`"resume_policy":{"resume_target":"Runnable","consume_matched_signals":true,"retain_signal_buffer_until_closed":false,"close_waitpoint_on_resume":true},` +
		`"reason_code":"WaitingForSignal","requested_by":"Worker","timeout_behavior":"Fail","now":0}`
	a.do("POST", "/v1/worker/suspend", body).wantJSON(t, http.StatusOK, `{"AlreadySatisfied":{"details":{"suspension_id":"`+susp.String()+
		`","waitpoint_id":"`+pw.WaitpointID+`","waitpoint_key":"approval","waitpoint_token":"`+pw.WaitpointToken+`","additional_waitpoints":[]}}}`)
	a.do("POST", "/v1/worker/waitpoints/close", map[string]any{"handle": l.Handle, "waitpoint_id": pw.WaitpointID}).
		wantJSON(t, http.StatusOK, `"AlreadyClosed"`)
	// Delay, then the resumed claim.
	a.do("POST", "/v1/worker/delay", map[string]any{"handle": l.Handle, "delay_until": epoch - 1}).
		wantJSON(t, http.StatusOK, `{"Delayed":{"delay_until":`+ms(epoch-1)+`}}`)
	a.do("POST", "/v1/worker/delay", map[string]any{"handle": l.Handle, "delay_until": epoch}).wantJSON(t, http.StatusConflict,
		`{"error":"stale_lease: stale lease: execution is runnable (execution `+id.String()+`, attempt 0, epoch 1)","kind":"contention","retryable":true}`)
	l2 := a.claim(nil)
	if l2 == nil || l2.AttemptIndex != 0 || l2.LeaseEpoch != 2 {
		t.Fatalf("claim after delay = %+v", l2)
	}
	a.do("POST", "/v1/worker/signals", map[string]any{"handle": l2.Handle}).wantJSON(t, http.StatusOK, `{"signals":[]}`)
	// Operator resume of an OperatorOnly wait.
	a.do("POST", ep(id)+"/resume", nil).wantJSON(t, http.StatusConflict,
		`{"error":"state_conflict: ExecutionNotSuspended","kind":"state_conflict","retryable":false}`)
	wp := uuid.New()
	a.do("POST", "/v1/worker/suspend", suspendBody(l2.Handle, uuid.New(), wp, "op", `"OperatorOnly"`, "")).decode(t, &struct{}{})
	a.do("GET", ep(id)+"/state", nil).wantJSON(t, http.StatusOK, `"suspended"`)
	a.do("POST", ep(id)+"/resume", `{"resume_delay_ms":"soon"}`).wantJSON(t, http.StatusUnprocessableEntity, `{"error":"invalid JSON: Unprocessable Entity"}`)
	a.do("POST", ep(id)+"/resume", `{}`).wantJSON(t, http.StatusOK, `{"Resumed":{"public_state":"waiting"}}`)
	unknown := backend.NewExecutionID(0)
	a.do("POST", ep(unknown)+"/resume", nil).wantJSON(t, http.StatusNotFound, `{"error":"execution not found: `+unknown.String()+`"}`)
	a.do("POST", ep(id)+"/resume", nil).wantJSON(t, http.StatusConflict,
		`{"error":"state_conflict: ExecutionNotSuspended","kind":"state_conflict","retryable":false}`)
	// Worker cancel.
	l3 := a.claim(nil)
	a.do("POST", "/v1/worker/cancel", map[string]any{"handle": l3.Handle, "reason": "user aborted"}).
		wantJSON(t, http.StatusOK, `{"Cancelled":{"execution_id":"`+id.String()+`","public_state":"cancelled"}}`)
	a.do("POST", "/v1/worker/cancel", map[string]any{"handle": l3.Handle, "reason": "again"}).wantJSON(t, http.StatusConflict,
		`{"error":"stale_lease: stale lease: lease epoch moved (execution `+id.String()+`, attempt 0, epoch 3)","kind":"contention","retryable":true}`)
	a.do("GET", ep(id)+"/state", nil).wantJSON(t, http.StatusOK, `"cancelled"`)
}

// Bad input on every new route is a one-line 4xx JSON envelope, never a
// 5xx, and changes nothing.
func TestWaitRoutesBadInputIs4xx(t *testing.T) {
	t.Parallel()
	a := waitAPI(t)
	id := a.create(0, nil)
	l := a.claim(nil)
	routes := []struct{ method, path string }{
		{"POST", "/v1/worker/suspend"}, {"POST", "/v1/worker/waitpoints"}, {"POST", "/v1/worker/waitpoints/close"},
		{"POST", "/v1/worker/signals"}, {"POST", "/v1/worker/delay"}, {"POST", "/v1/worker/cancel"},
		{"POST", ep(id) + "/signal"}, {"POST", ep(id) + "/resume"}, {"POST", "/v1/executions/nope/resume"},
		{"POST", "/v1/executions/nope/signal"}, {"GET", "/v1/executions/nope/pending-waitpoints"},
		{"GET", "/v1/executions/nope/waitpoints/x/token"}, {"GET", ep(id) + "/waitpoints/x/token"},
	}
	bodies := []string{``, `{`, `null`, `[]`, `"x"`, `7`, `{}`, `{"handle":null}`, `{"handle":"!!"}`, `{"handle":"AAAA"}`,
		`{"handle":7}`, `{"handle":"` + l.Handle + `"}`, `{"handle":"` + l.Handle + `","waitpoints":[]}`,
		`{"handle":"` + l.Handle + `","delay_until":"x","reason":5,"waitpoint_key":{},"expires_in_ms":-1,"waitpoint_id":"x"}`,
		`{"handle":"` + l.Handle + `","delay_until":-5,"waitpoint_key":"k","expires_in_ms":-1,"waitpoint_id":"` + uuid.NewString() + `"}`,
		`{"execution_id":"` + id.String() + `","waitpoint_id":"` + uuid.NewString() + `","signal_id":"` + uuid.NewString() +
			`","signal_name":"x","signal_category":"c","source_type":"t","source_identity":"i","target_scope":"s","waitpoint_token":"k1:zz","now":0,"payload":[256]}`,
		`{"execution_id":"` + id.String() + `","waitpoint_id":"` + uuid.NewString() + `","signal_id":"` + uuid.NewString() +
			`","signal_name":"x","signal_category":"c","source_type":"t","source_identity":"i","target_scope":"s","waitpoint_token":"k1:zz","now":0}`,
		`{"trigger_type":"bogus"}`,
		suspendBody(l.Handle, uuid.New(), uuid.New(), "k", `{"Composite":{"kind":"AllOf","members":[]}}`, ""),
		suspendBody(l.Handle, uuid.New(), uuid.New(), "k", `{"Composite":{"kind":"Bogus"}}`, ""),
		suspendBody(l.Handle, uuid.New(), uuid.New(), "k", `"TimeoutOnly"`, ""),
		suspendBody(l.Handle, uuid.New(), uuid.New(), "k", `{"Single":{"waitpoint_key":"other","matcher":"Wildcard"}}`, ""),
	}
	before := sqlCount(t, a.b, `SELECT count(*) FROM ff_waitpoint_pending`) + sqlCount(t, a.b, `SELECT count(*) FROM ff_suspension_current`) +
		sqlCount(t, a.b, `SELECT count(*) FROM ff_signal_event`)
	for _, rt := range routes {
		for _, body := range bodies {
			var b any
			if body != "" || rt.method == "POST" {
				b = body
			}
			if rt.method == "GET" {
				b = nil
			}
			r := a.do(rt.method, rt.path, b)
			if r.status < 400 && !(r.status == http.StatusOK && (strings.HasSuffix(rt.path, "/signals") || strings.HasSuffix(rt.path, "/resume"))) {
				t.Fatalf("%s %s %s = %d %s, want 4xx", rt.method, rt.path, body, r.status, r.body)
			}
			if r.status >= 500 {
				t.Fatalf("%s %s %s = %d %s", rt.method, rt.path, body, r.status, r.body)
			}
			if r.status >= 400 && (strings.Contains(r.body, "\n") || !strings.HasPrefix(r.body, `{"error":`)) {
				t.Fatalf("%s %s %s: not a one-line envelope: %q", rt.method, rt.path, body, r.body)
			}
		}
	}
	after := sqlCount(t, a.b, `SELECT count(*) FROM ff_waitpoint_pending`) + sqlCount(t, a.b, `SELECT count(*) FROM ff_suspension_current`) +
		sqlCount(t, a.b, `SELECT count(*) FROM ff_signal_event`)
	if after != before {
		t.Fatal("bad input changed the database")
	}
	// Over the 256 KiB limit of route 9: the 413 envelope.
	big := `{"x":"` + strings.Repeat("a", 256<<10) + `"}`
	a.do("POST", ep(id)+"/signal", big).wantJSON(t, http.StatusRequestEntityTooLarge,
		`{"error":"payload_too_large","limit_bytes":262144,"route":"/v1/executions/{id}/signal"}`)
	a.do("POST", "/v1/worker/suspend", big).wantJSON(t, http.StatusRequestEntityTooLarge,
		`{"error":"payload_too_large","limit_bytes":65536,"route":"/v1/worker/suspend"}`)
}
