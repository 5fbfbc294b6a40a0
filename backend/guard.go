package backend

import (
	"errors"
	"os"
)

// DevModeEnv is the environment variable that must equal exactly "1" before
// any backend is opened.
const DevModeEnv = "FF_DEV_MODE"

// ErrRequiresDevMode is returned by Open when FF_DEV_MODE is not exactly "1".
// Its text is upstream's refusal, byte for byte.
//
//lint:ignore ST1005 upstream's refusal text, byte for byte, ends with a period
var ErrRequiresDevMode = errors.New("SqliteBackend requires FF_DEV_MODE=1 to activate. SQLite is dev-only; see https://github.com/avifenesh/FlowFabric/blob/main/docs/dev-harness.md for details.")

// BannerText is the WARN line printed once per fresh backend construction.
const BannerText = "FlowFabric SQLite backend active (FF_DEV_MODE=1). This backend is dev-only; single-writer, single-process, not supported in production. See RFC-023."

// DevModeEnabled reports whether FF_DEV_MODE is exactly "1". Anything else
// (unset, empty, "true", " 1", "01") refuses.
func DevModeEnabled() bool {
	v, ok := os.LookupEnv(DevModeEnv)
	return ok && v == "1"
}
