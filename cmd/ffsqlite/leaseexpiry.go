package main

import (
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/ffsqlite/ffsqlite/backend"
)

// leaseExpiryModeFlag selects what scan's and serve's lease-expiry
// reconciler does with an expired lease (backend/reclaim.go).
const leaseExpiryModeFlag = "lease-expiry-mode"

// leaseExpiryFlag is the --lease-expiry-mode flag of scan and serve.
func leaseExpiryFlag() cli.Flag {
	return &cli.StringFlag{Name: leaseExpiryModeFlag,
		Usage: "what the lease-expiry reconciler does with an expired lease: `MODE` requeue (back to the queue for a " +
			"reclaim attempt, ffsqlite's dev convenience) or reclaimable (canonical marking: the execution stays active " +
			"as lease_expired_reclaimable until POST /v1/executions/{id}/reclaim, for testing a reclaim path) " +
			"(default: requeue; env " + backend.LeaseExpiryModeEnv + ")"}
}

// leaseExpirySetting is the lease-expiry mode of a command that has the
// flag: --lease-expiry-mode, else FFSQLITE_LEASE_EXPIRY_MODE, else
// requeue. A command without the flag keeps the backend default.
func leaseExpirySetting(c *cli.Context, lookup func(string) (string, bool)) (backend.LeaseExpiryMode, error) {
	if c.Command == nil || !slices.ContainsFunc(c.Command.Flags, func(f cli.Flag) bool {
		return slices.Contains(f.Names(), leaseExpiryModeFlag)
	}) {
		return "", nil
	}
	if c.IsSet(leaseExpiryModeFlag) {
		m, err := backend.ParseLeaseExpiryMode(c.String(leaseExpiryModeFlag))
		if err != nil {
			return "", usageErr("--lease-expiry-mode requeue|reclaimable", "%v", err)
		}
		return m, nil
	}
	if v, ok := lookup(backend.LeaseExpiryModeEnv); ok && v != "" {
		m, err := backend.ParseLeaseExpiryMode(v)
		if err != nil {
			return "", usageErr("set "+backend.LeaseExpiryModeEnv+" to requeue or reclaimable", "%v", err)
		}
		return m, nil
	}
	return backend.LeaseExpiryRequeue, nil
}
