package migrations

import (
	"encoding/hex"
	"fmt"
)

// UpstreamMigration is one of upstream FlowFabric's own sqlx migrations, as
// its runner records it in _sqlx_migrations: the version, the description
// (the file name after the version, "_" read as a space) and the SHA-384
// checksum of upstream's file. These are facts about upstream's files
// (../shared/spec/sqlx-ledger.md), not their contents: ffsqlite writes the
// same rows so that upstream's backend opens a database ffsqlite migrated.
type UpstreamMigration struct {
	Version     int64
	Description string
	// Checksum is the SHA-384 of upstream's migration file, 48 bytes.
	Checksum []byte
}

// upstreamLedger is the one copy of the facts, as the spec's table gives
// them (upstream commit 0def5967826b95dcaf1b9bd64c8f3a3e66d56fed). Each
// version here is also an embedded goose migration of the same number.
var upstreamLedger = []struct {
	version     int64
	description string
	checksum    string // hex
}{
	{1, "initial", "5188a06d334e6b31bb57754f188a34fd27354a04c0417d00bf5362b290217220204cb147c0b8e1a3509dce2cc171979d"},
	{2, "budget", "e74a1c08a782cf2662cc2ae49f29d31932fbfc4e442f04f888550aa61a66744dce0115ca330a042330ada104c4605612"},
	{3, "dispatch outbox", "bdd6ad8d3af9abdbc143f1143bc0e0731418dd38c50d67b977f7e0065af0b823b35903100efa3e66bf3f6ed91d355fd1"},
	{4, "suspend signal", "c0f6e16b73ac4be190dce5c380738bb51942eb61f7afbc93077f156b14038ff67e2ce562b2e8248fe82f5c570b6ecaf6"},
	{5, "timeout scanners", "b19914481f7167969df42a116957f6c0867c9fd8f7a5ba4cbdec67f5881481b46813d2daedae3e992cebcf10bf4bb5ff"},
	{6, "lease event outbox", "3a33d260cbe05118cc3ff7ae1798c9dc2a43c4042223b0f779787175e48a5d7f778a87dd502696774b1a9fe428f47178"},
	{7, "signal event outbox", "73484baf9ccbf57ea360940ccc9e4409d2063d5fcb758b1bf68f31f88a168c4366b28b3a4047b42cee5a96a78a4c744a"},
	{8, "lease event instance tag", "0606d6d30b8edd71c1d3abbc9ba2868c5157628137dca71eb29e1989a7bf4bad44d8143b48f981fa2d5294b77922cad9"},
	{9, "signal event instance tag", "0be87aaeceb36f3fd4c36ad044ab42288169a15b468307b50641215486bfdcb5ee839e55f6bfd233eb4ee382c6a203cc"},
	{10, "operator event outbox", "2c0a4903c110f15940dc7240579a097bb4bf1d19860f9b934d8d417e69fd22d334863940ada59938190a2f352be73bbb"},
	{11, "waitpoint pending extensions", "1ba35539624af0756e2d844edc569aa532bbe4f0facc64ea94d379ff39c9e0db322cad62be969894c2db8ee9203b2648"},
	{12, "quota policy", "77cfc37da00ec29884859912684ebfe8ffa37101593bc886063c3c5ba6b92c68df7fcbde7c701be401603da9007ab69b"},
	{13, "budget policy extensions", "8ab211067c170750443d27a5e63550c0c9def97abe92d5c91fc749774a7f261a4c546206ee33aca9c40a0a2fc7923e0d"},
	{14, "cancel backlog", "25a6c142fd4841691e6f5774b17394fa9e60cce71f73fa6520ae15def19705a98adad0390fa671dc94a91ba36fc0b039"},
	{16, "started at ms", "b9ae3926f578c2c7795f4d859a22341069fde5da53fb2ae9a8389914fa1652644371d273903be7b30aef4794a9beaa98"},
	{17, "claim grant table", "cfa3374d26b2cc513e5e8a94612b393c0443d58a9bac5c261ef18f8d873541594029eb85b9a156c5ea4eab36d3ffff6d"},
	{18, "completion event lookup idx", "8317aa1b3b8da31b8d0cd37639173121314748d8c7523e227da1cc9c2922e4dd64fe95f15ef8bad88586f760ddb014b8"},
	{20, "budget usage by exec", "597ace0065f8cfda7bc59977b3b82960c27d20878c155c208245747493e771db568a58d3e1a970c5b873ee3678d09691"},
	{21, "worker registry", "9f097e08fee7eee6ce197996a9c2d7b86b4f9724f7084208e487f5e859cbacd330f2db9973fe0ce94434ace0d995ad8f"},
	{22, "worker registry event pk", "ee4fd7ef3a37fbf04314b42b5e2d003c376d0dc54f30ca36501586f80cc852e36079bad38a93fc071a560f555ffb910f"},
}

// Upstream returns upstream's migrations in ascending version order (a
// fresh copy on every call).
func Upstream() []UpstreamMigration {
	out := make([]UpstreamMigration, len(upstreamLedger))
	for i, m := range upstreamLedger {
		sum, err := hex.DecodeString(m.checksum)
		if err != nil || len(sum) != 48 {
			// The table is a constant checked by TestUpstreamLedgerMatchesSpec.
			panic(fmt.Sprintf("migrations: bad checksum for upstream version %d", m.version))
		}
		out[i] = UpstreamMigration{Version: m.version, Description: m.description, Checksum: sum}
	}
	return out
}

// UpstreamVersion returns upstream's migration with version v, if upstream
// ships one.
func UpstreamVersion(v int64) (UpstreamMigration, bool) {
	for _, m := range Upstream() {
		if m.Version == v {
			return m, true
		}
	}
	return UpstreamMigration{}, false
}
