package payment

// SetRefundHook makes s call f inside each refund's transaction, right after the refund
// wrote its tombstone or found the payment, so that tests can run a charge attempt there.
func SetRefundHook(s *Store, f func()) { s.refundHook = f }

// SetRedeemHook makes s call f inside each fresh redeem's transaction, right after it read
// and locked the coupon, so that tests can hold concurrent redeems there.
func SetRedeemHook(s *Store, f func()) { s.redeemHook = f }
