package stacktest

import (
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// A Write predicate tells a transaction apart by what it writes; FaultyDB.FailWhen takes one.
type Write func(in *dynamodb.TransactWriteItemsInput) bool

// SettlesPaid reports whether a transaction marks an invoice paid: the commit after a successful charge.
func SettlesPaid(in *dynamodb.TransactWriteItemsInput) bool {
	for _, it := range in.TransactItems {
		if it.Update != nil && it.Update.ExpressionAttributeValues[":paid"] != nil {
			return true
		}
	}
	return false
}

// StoresOutcome reports whether a transaction stores a payment attempt's outcome (succeeded or failed).
func StoresOutcome(in *dynamodb.TransactWriteItemsInput) bool {
	return puts(in, ":processing")
}

// IssuesRefund reports whether a transaction issues a refunded credit note: the commit after the
// processor accepted a refund.
func IssuesRefund(in *dynamodb.TransactWriteItemsInput) bool {
	return puts(in, ":pending")
}

// puts reports whether a transaction puts an item on a condition over the value named value.
func puts(in *dynamodb.TransactWriteItemsInput, value string) bool {
	for _, it := range in.TransactItems {
		if it.Put != nil && it.Put.ExpressionAttributeValues[value] != nil {
			return true
		}
	}
	return false
}

// First matches the first n transactions p matches, then none.
func First(n int64, p Write) Write {
	var done atomic.Int64
	return func(in *dynamodb.TransactWriteItemsInput) bool {
		return p(in) && done.Add(1) <= n
	}
}
