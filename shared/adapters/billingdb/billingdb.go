// Package billingdb stores customers, invoices, payments, credit notes and their number counters in the billing table
// (DynamoDB, single-table design). It reads directly and returns the writes of a change as
// TransactWriteItems items, so the caller commits them with the audit record and the idempotent outcome
// in one transaction.
//
// # Items
//
//	customer        pk CUS#<id>                 sk CUS      gsi1pk CUSTOMERS            gsi1sk <created_at>#<id>
//	invoice         pk INV#<id>                 sk INV      gsi1pk CUS#<customer>#INV   gsi1sk <created_at>#<id>
//	                                                        gsi2pk INVSTATUS#<status>   gsi2sk <created_at>#<id>
//	number counter  pk COUNTER#invoice_number   sk COUNTER  value = the last number issued
//	payment         pk PAY#<id>                 sk PAY      gsi1pk INV#<invoice>#PAY    gsi1sk <created_at>#<id>
//	                                                        gsi2pk CUS#<customer>#PAY   gsi2sk <created_at>#<id>
//	credit note     pk CN#<id>                  sk CN       (see creditnotes.go)
//
// An open invoice that a payment attempt is charging also carries claim_payment_id and claim_until
// (the attempt and the end of its lease, Unix ms); see "Payments" below.
//
// Every item carries a version; every change is a write conditioned on the version it read
// (optimistic locking), and invoice writes are also conditioned on the status they expect.
//
// # Access patterns
//
//	get a customer or an invoice by id      GetItem (strongly consistent)
//	list customers, newest first            Query gsi1 CUSTOMERS, descending
//	invoices of a customer, newest first    Query gsi1 CUS#<id>#INV, descending (status, if given, filters)
//	invoices by status, newest first        Query gsi2 INVSTATUS#<status>, descending
//	all invoices, newest first              Query gsi2 for each of the five statuses and merge
//	get a payment by id                     GetItem (strongly consistent)
//	payments of an invoice, oldest first    Query gsi1 INV#<id>#PAY, ascending (newest first for the API)
//	payments of a customer, newest first    Query gsi2 CUS#<id>#PAY, descending
//	credit notes of an invoice / customer   Query gsi1 INV#<id>#CN / gsi2 CUS#<id>#CN, descending
//
// Pages are positions, not DynamoDB keys: the cursor is the last index sort key returned
// (<created_at>#<id>, unique), and the next page queries "sort key < cursor". A cursor therefore works
// for any of the queries above and reveals nothing but a time and an id.
//
// # Invoice numbers
//
// Finalizing reads the counter, then commits in one transaction: the counter moved from n to n+1 (on
// condition that it is still n), the invoice moved draft → open with number n+1 (on condition of its
// version and status), the audit record and the idempotent outcome. Two finalizes that read the same n
// cannot both commit; the loser re-reads and retries. A transaction that fails changes nothing, so it
// consumes no number: numbers are gapless and unique. The price is that finalizes are serialized on the
// counter item (about a thousand per second at most, by DynamoDB's per-item write limit).
//
// # Payments
//
// A payment attempt (pay_<id>, status processing → succeeded | failed) charges an invoice exactly once
// whatever the retries, races and crashes:
//
//  1. Claim: one transaction sets claim_payment_id and claim_until on the invoice, on condition that
//     it is open, has an amount due, holds no claim and is at the version read, and puts the payment
//     as processing. Only one attempt can win; the others see the claim and are refused (409).
//  2. Charge: the card processor is called with the payment id as its idempotency key.
//  3. Settle: one transaction (with the audit record and the idempotent outcome) marks the invoice
//     paid and removes the claim (MarkPaidItem), or removes the claim only (ReleaseItem) for a
//     decline, and stores the payment's outcome on condition that it is still processing.
//
// If the function dies or DynamoDB fails between 2 and 3, the claim stays. Once its lease has ended
// (at once, when the failing request could still shorten it with ExpireClaimItem) the next pay request
// takes it over (TakeOverItem, one winner), asks the processor again with the SAME idempotency key, which
// answers with the first result instead of charging again, and settles as in 3. Every claim write
// moves the invoice's version on, so a void or write-off prepared before it cannot commit, and one
// prepared after it is refused by the domain (billing.Invoice.Apply) while the claim exists.
//
// # DynamoDB calls per route
//
// The runtime adds one PutItem for the audit record of every read or refusal (changes carry their
// record in the transaction), and one PutItem to claim an Idempotency-Key when a POST sends one.
//
//	CreateCustomer          1 TransactWriteItems (customer key put, customer put, audit, idempotent
//	                        outcome); KMS: 1 GenerateDataKey (the customer's own key)
//	GetCustomer             1 GetItem + 1 audit PutItem (+1 GetItem of the key item and 1 KMS Decrypt
//	                        when the customer's key is not cached: shared/adapters/customerkeys)
//	ListCustomers           1 Query + 1 audit PutItem   (a customer's own list: 1 GetItem)
//	UpdateCustomer          1 GetItem + 1 TransactWriteItems
//	CreateInvoice           1 TransactWriteItems (customer condition check, invoice put, audit, outcome);
//	                        a failed customer check adds 1 GetItem (unknown or erased customer)
//	GetInvoice              1 GetItem + 1 audit PutItem
//	ListInvoices            1 Query (by customer or status; more only when a status filter thins a
//	                        customer's page) or 5 Queries (no filter) + 1 audit PutItem
//	UpdateInvoice           1 GetItem + 1 TransactWriteItems
//	DeleteInvoice           1 GetItem + 1 TransactWriteItems
//	FinalizeInvoice         2 GetItem (invoice, counter) + 1 TransactWriteItems, again per lost race
//	VoidInvoice             1 GetItem + 1 TransactWriteItems
//	MarkInvoiceUncollectible 1 GetItem + 1 TransactWriteItems
//	PayInvoice              1 GetItem (invoice) + 1 TransactWriteItems (card-attempt counters,
//	                        shared/adapters/ratelimit) + 1 TransactWriteItems (claim) + 1 GetItem (token) +
//	                        1 PutItem (Detokenize record) + 1 TransactWriteItems (settle, audit, outcome);
//	                        (a recovery adds 1 GetItem for the attempt and takes the claim over instead
//	                        of claiming; KMS: none while the card's data key is cached, else 1 Decrypt)
package billingdb

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// DB is the DynamoDB calls the store makes itself.
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Store reads and prepares writes of the billing table.
type Store struct {
	DB    DB
	Table string
	// Keys seal and open customers' personal data (personal.go); a store without them refuses to
	// read or write a customer.
	Keys CustomerKeys
}

// Key prefixes and constant sort keys.
const (
	customerPK      = "CUS#"
	customerSK      = "CUS"
	customersGSI1PK = "CUSTOMERS"
	invoicePK       = "INV#"
	invoiceSK       = "INV"
	statusGSI2PK    = "INVSTATUS#"
	counterPK       = "COUNTER#invoice_number"
	counterSK       = "COUNTER"
	attrVersion     = "version"
	attrStatus      = "status"
	attrValue       = "value"
)

func customerKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{resources.PK: s(customerPK + id), resources.SK: s(customerSK)}
}

func invoiceKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{resources.PK: s(invoicePK + id), resources.SK: s(invoiceSK)}
}

func counterKeyOf(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{resources.PK: s(pk), resources.SK: s(counterSK)}
}

func customerInvoicesGSI1PK(customerID string) string { return customerPK + customerID + "#INV" }

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// GetCustomer returns a customer, or not_found.
func (st *Store) GetCustomer(ctx context.Context, id string) (*billing.Customer, error) {
	item, err := st.getObject(ctx, billing.CustomerPrefix, id, "customer", customerKey(id))
	if err != nil {
		return nil, err
	}
	return st.openCustomer(ctx, item)
}

// GetCustomerRecord returns a customer without its personal data (id, status fields, erasure), or
// not_found, without opening the customer's key: for functions that only need to know the customer
// exists (users checks a customer user's customer) and hold no customer key.
func (st *Store) GetCustomerRecord(ctx context.Context, id string) (*billing.Customer, error) {
	item, err := st.getObject(ctx, billing.CustomerPrefix, id, "customer", customerKey(id))
	if err != nil {
		return nil, err
	}
	return decodeCustomer(item)
}

// Get returns an invoice, or not_found. The read is strongly consistent, so its Version is the one a
// conditional write must match. The payments function reads the invoice it charges with it.
func (st *Store) Get(ctx context.Context, id string) (*billing.Invoice, error) {
	item, err := st.getObject(ctx, billing.InvoicePrefix, id, "invoice", invoiceKey(id))
	if err != nil {
		return nil, err
	}
	return decodeInvoice(item)
}

// LastNumber returns the last invoice number issued (0 before the first).
func (st *Store) LastNumber(ctx context.Context) (int64, error) {
	return st.lastOf(ctx, counterPK)
}

// lastOf reads the number counter pk: the last number issued (0 before the first).
func (st *Store) lastOf(ctx context.Context, pk string) (int64, error) {
	item, err := st.get(ctx, counterKeyOf(pk))
	if err != nil {
		return 0, fmt.Errorf("read number counter %s: %w", pk, err)
	}
	if item == nil {
		return 0, nil
	}
	v, ok := item[attrValue].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("number counter %s has no numeric %q", pk, attrValue)
	}
	last, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("number counter %s %q: %w", pk, v.Value, err)
	}
	return last, nil
}

func (st *Store) get(ctx context.Context, key map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, err := st.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(st.Table), Key: key, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// getObject reads the item at key of the object id (strongly consistent), or answers not_found for
// what: an id without prefix is not found without a read, so no malformed id reaches a key.
func (st *Store) getObject(ctx context.Context, prefix, id, what string, key map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	if !billing.ValidID(prefix, id) {
		return nil, notFound(what)
	}
	item, err := st.get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", what, id, err)
	}
	if item == nil {
		return nil, notFound(what)
	}
	return item, nil
}

func notFound(what string) error {
	return problem.New(problem.NotFound, "No such %s.", what)
}

func decodeCustomer(item map[string]types.AttributeValue) (*billing.Customer, error) {
	var c billing.Customer
	if err := attributevalue.UnmarshalMap(item, &c); err != nil {
		return nil, fmt.Errorf("decode customer item: %w", err)
	}
	c.Object = billing.ObjectCustomer
	return &c, nil
}

func decodeInvoice(item map[string]types.AttributeValue) (*billing.Invoice, error) {
	var inv billing.Invoice
	if err := attributevalue.UnmarshalMap(item, &inv); err != nil {
		return nil, fmt.Errorf("decode invoice item: %w", err)
	}
	inv.Object = billing.ObjectInvoice
	if inv.Lines == nil {
		inv.Lines = []billing.Line{}
	}
	return &inv, nil
}

func customerItem(c *billing.Customer) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(c)
	if err != nil {
		return nil, fmt.Errorf("encode customer %s: %w", c.ID, err)
	}
	for k, v := range customerKey(c.ID) {
		item[k] = v
	}
	item[resources.GSI1PK] = s(customersGSI1PK)
	item[resources.GSI1SK] = s(c.CreatedAt + "#" + c.ID)
	return item, nil
}

func invoiceItem(inv *billing.Invoice) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(inv)
	if err != nil {
		return nil, fmt.Errorf("encode invoice %s: %w", inv.ID, err)
	}
	for k, v := range invoiceKey(inv.ID) {
		item[k] = v
	}
	sk := inv.CreatedAt + "#" + inv.ID
	item[resources.GSI1PK] = s(customerInvoicesGSI1PK(inv.CustomerID))
	item[resources.GSI1SK] = s(sk)
	item[resources.GSI2PK] = s(statusGSI2PK + string(inv.Status))
	item[resources.GSI2SK] = s(sk)
	return item, nil
}

// customerExists is the condition check that an invoice's customer exists and was not erased,
// committed with the invoice.
func (st *Store) customerExists(customerID string) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String(st.Table), Key: customerKey(customerID),
		ConditionExpression: aws.String("attribute_exists(pk) AND attribute_not_exists(erased_at)"),
	}}
}

// CreateInvoiceItems are the writes of a new draft: a check that its customer exists (item 0) and the
// invoice put (item 1). A cancellation on item 0 means an unknown customer (see UnknownCustomer).
func (st *Store) CreateInvoiceItems(inv *billing.Invoice) ([]types.TransactWriteItem, error) {
	item, err := invoiceItem(inv)
	if err != nil {
		return nil, err
	}
	return []types.TransactWriteItem{
		st.customerExists(inv.CustomerID),
		{Put: &types.Put{
			TableName: aws.String(st.Table), Item: item,
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}},
	}, nil
}

// UpdateInvoiceItems are the writes of an edited draft: the customer check (item 0) and the put of
// inv (item 1), conditioned on the version that was read and on the invoice still being a draft.
func (st *Store) UpdateInvoiceItems(inv *billing.Invoice, prevVersion int64) ([]types.TransactWriteItem, error) {
	put, err := st.putIfItem(inv, prevVersion, billing.Draft)
	if err != nil {
		return nil, err
	}
	return []types.TransactWriteItem{st.customerExists(inv.CustomerID), put}, nil
}

// TransitionItem is the put of inv after a status change, conditioned on the version and the status
// (from) that were read.
func (st *Store) TransitionItem(inv *billing.Invoice, prevVersion int64, from billing.Status) (types.TransactWriteItem, error) {
	return st.putIfItem(inv, prevVersion, from)
}

func (st *Store) putIfItem(inv *billing.Invoice, prevVersion int64, status billing.Status) (types.TransactWriteItem, error) {
	item, err := invoiceItem(inv)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(st.Table), Item: item,
		ConditionExpression:       aws.String("#v = :v AND #st = :st"),
		ExpressionAttributeNames:  map[string]string{"#v": attrVersion, "#st": attrStatus},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": n(prevVersion), ":st": s(string(status))},
	}}, nil
}

// DeleteInvoiceItem deletes a draft, conditioned on the version that was read and on it being a draft.
func (st *Store) DeleteInvoiceItem(inv *billing.Invoice) types.TransactWriteItem {
	return types.TransactWriteItem{Delete: &types.Delete{
		TableName: aws.String(st.Table), Key: invoiceKey(inv.ID),
		ConditionExpression:       aws.String("#v = :v AND #st = :st"),
		ExpressionAttributeNames:  map[string]string{"#v": attrVersion, "#st": attrStatus},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": n(inv.Version), ":st": s(string(billing.Draft))},
	}}
}

// FinalizeItems are the writes of a finalize: the counter moved from last to last+1 (item 0) and inv,
// already open with number last+1, put on condition of the draft version read (item 1). Committed
// together, a number is issued exactly when its invoice is finalized.
func (st *Store) FinalizeItems(inv *billing.Invoice, prevVersion, last int64) ([]types.TransactWriteItem, error) {
	put, err := st.putIfItem(inv, prevVersion, billing.Draft)
	if err != nil {
		return nil, err
	}
	counter := st.counterItem(counterPK, last)
	return []types.TransactWriteItem{counter, put}, nil
}

// counterItem moves the number counter pk from last to last+1, on condition that it is still last: of
// two changes that read the same last number, only one commits, and the other re-reads and retries.
func (st *Store) counterItem(pk string, last int64) types.TransactWriteItem {
	counter := &types.Update{
		TableName: aws.String(st.Table), Key: counterKeyOf(pk),
		UpdateExpression:          aws.String("SET #val = :next"),
		ExpressionAttributeNames:  map[string]string{"#val": attrValue},
		ExpressionAttributeValues: map[string]types.AttributeValue{":next": n(last + 1)},
	}
	if last == 0 {
		counter.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		counter.ConditionExpression = aws.String("#val = :last")
		counter.ExpressionAttributeValues[":last"] = n(last)
	}
	return types.TransactWriteItem{Update: counter}
}

// MarkPaidItem is the write that settles an open invoice in the payments function's own transaction:
// status open → paid, amount_paid = the amount due (what pre-payment credit notes left), amount_due = 0, paid_at and payment_id set, the payment
// claim removed, version + 1. It is conditioned on the version and the open status that inv was read
// with (by Get, or as the payment's claim left it), so an invoice is paid at most once however many
// payments race; a cancellation of this item means the invoice changed since it was read (another
// request took the claim over) and this request must not report the payment as its own.
func (st *Store) MarkPaidItem(inv *billing.Invoice, paymentID, paidAt string) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(st.Table), Key: invoiceKey(inv.ID),
		UpdateExpression: aws.String("SET #st = :paid, amount_paid = :due, amount_due = :zero, paid_at = :at, " +
			"updated_at = :at, payment_id = :pay, #v = :next, " + resources.GSI2PK + " = :gsi2 " +
			"REMOVE " + attrClaimPaymentID + ", " + attrClaimUntil),
		ConditionExpression:      aws.String("#v = :v AND #st = :open"),
		ExpressionAttributeNames: map[string]string{"#st": attrStatus, "#v": attrVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":paid": s(string(billing.Paid)), ":open": s(string(billing.Open)),
			":due": n(inv.AmountDue), ":zero": n(0), ":at": s(paidAt), ":pay": s(paymentID),
			":v": n(inv.Version), ":next": n(inv.Version + 1), ":gsi2": s(statusGSI2PK + string(billing.Paid)),
		},
	}}
}

// CancellationReasons returns the reason code of each item of a cancelled transaction ("None",
// "ConditionalCheckFailed", "TransactionConflict", ...), or nil when err is not a cancellation.
func CancellationReasons(err error) []string {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil
	}
	out := make([]string, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		out[i] = aws.ToString(r.Code)
	}
	return out
}

// Failed reports whether item i of the cancelled transaction err failed with code.
func Failed(err error, i int, code string) bool {
	r := CancellationReasons(err)
	return i < len(r) && r[i] == code
}

// Contended reports whether err is a cancellation that a fresh read and a retry may overcome: a
// condition on one of the first n items (the caller's, read-dependent ones) failed, or the transaction
// collided with another.
func Contended(err error, items int) bool {
	r := CancellationReasons(err)
	for i, code := range r {
		if code == "TransactionConflict" || (i < items && code == "ConditionalCheckFailed") {
			return true
		}
	}
	var tce *types.TransactionConflictException
	return errors.As(err, &tce)
}

// Reason codes of a cancelled transaction.
const (
	ReasonConditionFailed = "ConditionalCheckFailed"
)
