package backend

// QuotaAdmissionOffForTest makes b's claims skip quota admission, the
// baseline of its price in the benchmarks. Call it before the first claim.
func (b *Backend) QuotaAdmissionOffForTest() { b.in.quotaOff = true }
