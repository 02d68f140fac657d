package billingdb

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Credit notes
//
//	credit note          pk CN#<id>                     sk CN       gsi1pk INV#<invoice>#CN   gsi1sk <created_at>#<id>
//	                                                                gsi2pk CUS#<customer>#CN  gsi2sk <created_at>#<id>
//	credit note counter  pk COUNTER#credit_note_number  sk COUNTER  value = the last number issued
//
// A pre-payment credit note commits in one transaction: the counter moved from n to n+1, the open
// invoice with its lower amount due (on condition of its version and status, so a payment claim taken
// meanwhile makes it retry and be refused), the note issued with number n+1, the audit record and the
// idempotent outcome.
//
// A post-payment credit note refunds exactly once, like a payment charges:
//
//  1. Reserve: one transaction raises the paid invoice's refund_reserved by the amount and adds the
//     note to its pending_refunds (on condition of its version and status; the handler checked that
//     refund_reserved + amount ≤ amount_paid on that version), and puts the note as pending with a
//     lease. Concurrent refunds each reserve their own amount; those that no longer fit are refused.
//  2. Refund: the processor is called with the note's id as its idempotency key.
//  3. Settle: one transaction moves the counter, raises the invoice's amount_refunded and the
//     payment's amount_refunded, removes the note from pending_refunds and stores it issued with its
//     number (on condition that it is still pending), with the audit record and the idempotent
//     outcome. A refused refund instead lowers refund_reserved again and deletes the pending note.
//
// If the function dies or DynamoDB fails between 2 and 3, the note stays pending. Once its lease has
// ended (at once, when the failing request could still shorten it), the next credit note request on the
// invoice takes it over (one winner, by a condition on the lease it read), asks the processor again with
// the same key, which answers with the first result instead of refunding again, and settles it.
//
// DynamoDB calls: a pre-payment note 2 GetItem (invoice, counter) + 1 TransactWriteItems; a refund
// 1 GetItem (invoice) + 1 GetItem (payment) + 1 TransactWriteItems (reserve) + 1 GetItem (counter) +
// 1 TransactWriteItems (settle); each lost race on the counter adds 1 GetItem and 1 TransactWriteItems.
const (
	creditNotePK        = "CN#"
	creditNoteSK        = "CN"
	creditNoteCounterPK = "COUNTER#credit_note_number"
	attrRefundReserved  = "refund_reserved"
	attrPendingRefunds  = "pending_refunds"
	attrAmountRefunded  = "amount_refunded"
)

func creditNoteKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{resources.PK: s(creditNotePK + id), resources.SK: s(creditNoteSK)}
}

func invoiceCreditNotesGSI1PK(invoiceID string) string   { return invoicePK + invoiceID + "#CN" }
func customerCreditNotesGSI2PK(customerID string) string { return customerPK + customerID + "#CN" }

func creditNoteItem(cn *billing.CreditNote) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(cn)
	if err != nil {
		return nil, fmt.Errorf("encode credit note %s: %w", cn.ID, err)
	}
	for k, v := range creditNoteKey(cn.ID) {
		item[k] = v
	}
	sk := cn.CreatedAt + "#" + cn.ID
	item[resources.GSI1PK] = s(invoiceCreditNotesGSI1PK(cn.InvoiceID))
	item[resources.GSI1SK] = s(sk)
	item[resources.GSI2PK] = s(customerCreditNotesGSI2PK(cn.CustomerID))
	item[resources.GSI2SK] = s(sk)
	return item, nil
}

func decodeCreditNote(item map[string]types.AttributeValue) (*billing.CreditNote, error) {
	var cn billing.CreditNote
	if err := attributevalue.UnmarshalMap(item, &cn); err != nil {
		return nil, fmt.Errorf("decode credit note item: %w", err)
	}
	cn.Object = billing.ObjectCreditNote
	return &cn, nil
}

// GetCreditNote returns a credit note, issued or pending, or not_found (strongly consistent).
func (st *Store) GetCreditNote(ctx context.Context, id string) (*billing.CreditNote, error) {
	item, err := st.getObject(ctx, billing.CreditNotePrefix, id, "credit note", creditNoteKey(id))
	if err != nil {
		return nil, err
	}
	return decodeCreditNote(item)
}

// LastCreditNoteNumber returns the last credit note number issued (0 before the first).
func (st *Store) LastCreditNoteNumber(ctx context.Context) (int64, error) {
	return st.lastOf(ctx, creditNoteCounterPK)
}

// IssuePrePaymentItems are the writes of a pre-payment credit note: the counter moved from last to
// last+1 (item 0), inv (already credited, read as open at prevVersion) put on condition of that version
// and status (item 1), and cn, issued with number last+1 (item 2).
func (st *Store) IssuePrePaymentItems(inv *billing.Invoice, prevVersion int64, cn *billing.CreditNote, last int64) ([]types.TransactWriteItem, error) {
	put, err := st.putIfItem(inv, prevVersion, billing.Open)
	if err != nil {
		return nil, err
	}
	item, err := creditNoteItem(cn)
	if err != nil {
		return nil, err
	}
	return []types.TransactWriteItem{
		st.counterItem(creditNoteCounterPK, last),
		put,
		{Put: &types.Put{TableName: aws.String(st.Table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}, nil
}

// ReserveRefundItems start a refund: the paid invoice, as read (inv), reserves cn's amount (item 0: on
// condition that it is still that version and paid; the caller checked that the amount fits on that
// version), and cn is stored as pending (item 1). A cancellation on item 0 means another request
// changed the invoice first: read again.
func (st *Store) ReserveRefundItems(inv *billing.Invoice, cn *billing.CreditNote) ([]types.TransactWriteItem, error) {
	item, err := creditNoteItem(cn)
	if err != nil {
		return nil, err
	}
	return []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(st.Table), Key: invoiceKey(inv.ID),
			UpdateExpression:         aws.String("SET #res = :res, #v = :next ADD #pending :cn"),
			ConditionExpression:      aws.String("#v = :v AND #st = :paid"),
			ExpressionAttributeNames: map[string]string{"#res": attrRefundReserved, "#pending": attrPendingRefunds, "#v": attrVersion, "#st": attrStatus},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":res": n(inv.RefundReserved + cn.Amount), ":cn": &types.AttributeValueMemberSS{Value: []string{cn.ID}},
				":next": n(inv.Version + 1), ":v": n(inv.Version), ":paid": s(string(billing.Paid)),
			},
		}},
		{Put: &types.Put{TableName: aws.String(st.Table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}, nil
}

// IssueRefundItems settle a refund the processor accepted: the counter moved from last to last+1 (item
// 0), the invoice's amount_refunded raised and cn removed from its pending refunds (item 1, on condition
// that cn is still pending there), the payment's amount_refunded raised (item 2), and cn, issued with
// number last+1 and its refund, put on condition that it is still pending under the lease it was
// claimed with (item 3). The reservation stays: it now holds a refund that is done.
func (st *Store) IssueRefundItems(cn *billing.CreditNote, claimUntil, last int64, at string) ([]types.TransactWriteItem, error) {
	item, err := creditNoteItem(cn)
	if err != nil {
		return nil, err
	}
	cnSet := &types.AttributeValueMemberSS{Value: []string{cn.ID}}
	return []types.TransactWriteItem{
		st.counterItem(creditNoteCounterPK, last),
		{Update: &types.Update{
			TableName: aws.String(st.Table), Key: invoiceKey(cn.InvoiceID),
			UpdateExpression:         aws.String("SET #ref = if_not_exists(#ref, :zero) + :amt, #v = #v + :one, updated_at = :at DELETE #pending :cn"),
			ConditionExpression:      aws.String("contains(#pending, :id)"),
			ExpressionAttributeNames: map[string]string{"#ref": attrAmountRefunded, "#pending": attrPendingRefunds, "#v": attrVersion},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":zero": n(0), ":amt": n(cn.Amount), ":one": n(1), ":at": s(at), ":cn": cnSet, ":id": s(cn.ID),
			},
		}},
		{Update: &types.Update{
			TableName: aws.String(st.Table), Key: paymentKey(cn.PaymentID),
			UpdateExpression:          aws.String("SET #ref = if_not_exists(#ref, :zero) + :amt, updated_at = :at"),
			ConditionExpression:       aws.String("attribute_exists(pk)"),
			ExpressionAttributeNames:  map[string]string{"#ref": attrAmountRefunded},
			ExpressionAttributeValues: map[string]types.AttributeValue{":zero": n(0), ":amt": n(cn.Amount), ":at": s(at)},
		}},
		{Put: &types.Put{
			TableName: aws.String(st.Table), Item: item,
			ConditionExpression:       aws.String("#st = :pending AND #until = :until"),
			ExpressionAttributeNames:  map[string]string{"#st": attrStatus, "#until": attrClaimUntil},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pending": s(string(billing.CreditNotePending)), ":until": n(claimUntil)},
		}},
	}, nil
}

// ReleaseRefundItems undo the reservation of a refund the processor refused: the invoice's
// refund_reserved lowered by cn's amount and cn removed from its pending refunds (item 0), and the
// pending cn deleted (item 1, on condition that it is still pending under the lease it was claimed with).
func (st *Store) ReleaseRefundItems(cn *billing.CreditNote, claimUntil int64) []types.TransactWriteItem {
	return []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(st.Table), Key: invoiceKey(cn.InvoiceID),
			UpdateExpression:         aws.String("SET #res = #res - :amt, #v = #v + :one DELETE #pending :cn"),
			ConditionExpression:      aws.String("contains(#pending, :id)"),
			ExpressionAttributeNames: map[string]string{"#res": attrRefundReserved, "#pending": attrPendingRefunds, "#v": attrVersion},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":amt": n(cn.Amount), ":one": n(1), ":cn": &types.AttributeValueMemberSS{Value: []string{cn.ID}}, ":id": s(cn.ID),
			},
		}},
		{Delete: &types.Delete{
			TableName: aws.String(st.Table), Key: creditNoteKey(cn.ID),
			ConditionExpression:       aws.String("#st = :pending AND #until = :until"),
			ExpressionAttributeNames:  map[string]string{"#st": attrStatus, "#until": attrClaimUntil},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pending": s(string(billing.CreditNotePending)), ":until": n(claimUntil)},
		}},
	}
}

// RenewRefundLeaseItem sets the lease of pending cn, read with lease from, to until: a take-over when
// from has ended (one request wins, by the condition), or an expiry when until is now.
func (st *Store) RenewRefundLeaseItem(cn *billing.CreditNote, from int64, until time.Time) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(st.Table), Key: creditNoteKey(cn.ID),
		UpdateExpression:         aws.String("SET #until = :until"),
		ConditionExpression:      aws.String("#st = :pending AND #until = :from"),
		ExpressionAttributeNames: map[string]string{"#st": attrStatus, "#until": attrClaimUntil},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pending": s(string(billing.CreditNotePending)), ":from": n(from), ":until": millis(until),
		},
	}}
}

// OwnerFilter narrows a credit note or payment list to an invoice and/or a customer.
type OwnerFilter struct {
	InvoiceID  string
	CustomerID string
}

// ParseOwnerList reads the query of a credit note or payment list (?invoice_id=&customer_id=&limit=
// &cursor=; idPrefix is the listed objects' id prefix). own is the caller's customer when it may only
// see its own objects ("" otherwise): its list is always its own, and naming another customer is not
// found. Other callers name an invoice or a customer (a 400 otherwise), since these lists are kept per
// invoice and per customer.
func ParseOwnerList(query func(name string) string, own, idPrefix string) (OwnerFilter, Page, error) {
	page, err := ParsePage(query("limit"), query("cursor"), idPrefix)
	if err != nil {
		return OwnerFilter{}, Page{}, err
	}
	f, err := parseOwnerFilter(query("invoice_id"), query("customer_id"), own)
	return f, page, err
}

func parseOwnerFilter(invoiceID, customerID, own string) (OwnerFilter, error) {
	f := OwnerFilter{InvoiceID: invoiceID, CustomerID: customerID}
	if f.InvoiceID != "" && !billing.ValidID(billing.InvoicePrefix, f.InvoiceID) {
		return f, notFound("invoice")
	}
	if f.CustomerID != "" && !billing.ValidID(billing.CustomerPrefix, f.CustomerID) {
		return f, notFound("customer")
	}
	if own != "" {
		if f.CustomerID != "" && f.CustomerID != own {
			return f, notFound("customer")
		}
		f.CustomerID = own
	}
	if f.InvoiceID == "" && f.CustomerID == "" {
		e := problem.Invalid(problem.FieldError{Field: "customer_id", Message: "name a customer_id or an invoice_id"})
		e.Malformed = true
		return f, e
	}
	return f, nil
}

// ListCreditNotes returns a page of issued credit notes of an invoice or a customer, newest first
// (1 Query, more only when pending notes or a second filter thin a page).
func (st *Store) ListCreditNotes(ctx context.Context, f OwnerFilter, p Page) (List[*billing.CreditNote], error) {
	filter := []condition{{attrStatus, string(billing.CreditNoteIssued)}}
	index, pk := resources.GSI2, customerCreditNotesGSI2PK(f.CustomerID)
	if f.InvoiceID != "" {
		index, pk = resources.GSI1, invoiceCreditNotesGSI1PK(f.InvoiceID)
		if f.CustomerID != "" {
			filter = append(filter, condition{"customer_id", f.CustomerID})
		}
	}
	items, err := st.queryWhere(ctx, index, pk, p, filter)
	if err != nil {
		return List[*billing.CreditNote]{}, fmt.Errorf("list credit notes: %w", err)
	}
	out := make([]*billing.CreditNote, 0, len(items))
	for _, it := range items {
		cn, err := decodeCreditNote(it)
		if err != nil {
			return List[*billing.CreditNote]{}, err
		}
		out = append(out, cn)
	}
	return listOf(out, p.Limit, func(cn *billing.CreditNote) string { return cn.CreatedAt + "#" + cn.ID }), nil
}

// ListPayments returns a page of payments of an invoice or a customer, newest first.
func (st *Store) ListPayments(ctx context.Context, f OwnerFilter, p Page) (List[*billing.Payment], error) {
	var filter []condition
	index, pk := resources.GSI2, customerPaymentsGSI2PK(f.CustomerID)
	if f.InvoiceID != "" {
		index, pk = resources.GSI1, invoicePaymentsGSI1PK(f.InvoiceID)
		if f.CustomerID != "" {
			filter = append(filter, condition{"customer_id", f.CustomerID})
		}
	}
	items, err := st.queryWhere(ctx, index, pk, p, filter)
	if err != nil {
		return List[*billing.Payment]{}, fmt.Errorf("list payments: %w", err)
	}
	out := make([]*billing.Payment, 0, len(items))
	for _, it := range items {
		pay, err := decodePayment(it)
		if err != nil {
			return List[*billing.Payment]{}, err
		}
		out = append(out, pay)
	}
	return listOf(out, p.Limit, func(p *billing.Payment) string { return p.CreatedAt + "#" + p.ID }), nil
}

// CreditNoteOfRequest returns the credit note of invoiceID that the request with key (see
// billing.CreditNote.RequestKey) created, issued or pending, or nil (1 Query of the invoice's notes).
func (st *Store) CreditNoteOfRequest(ctx context.Context, invoiceID, key string) (*billing.CreditNote, error) {
	items, err := st.queryWhere(ctx, resources.GSI1, invoiceCreditNotesGSI1PK(invoiceID), Page{Limit: MaxLimit},
		[]condition{{"request_key", key}})
	if err != nil {
		return nil, fmt.Errorf("find the credit note of a request: %w", err)
	}
	if len(items) == 0 {
		return nil, nil
	}
	return decodeCreditNote(items[0])
}
