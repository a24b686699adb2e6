package payment

// SetRefundHook makes s call f inside each refund's transaction, right after the refund
// wrote its tombstone or found the payment, so that tests can run a charge attempt there.
func SetRefundHook(s *Store, f func()) { s.refundHook = f }
