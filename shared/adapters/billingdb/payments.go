package billingdb

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Payment keys and the invoice's claim attributes.
const (
	paymentPK          = "PAY#"
	paymentSK          = "PAY"
	attrClaimPaymentID = "claim_payment_id"
	attrClaimUntil     = "claim_until"
)

func paymentKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{resources.PK: s(paymentPK + id), resources.SK: s(paymentSK)}
}

// invoicePaymentsGSI1PK is the gsi1 partition of an invoice's payments.
func invoicePaymentsGSI1PK(invoiceID string) string { return invoicePK + invoiceID + "#PAY" }

// customerPaymentsGSI2PK is the gsi2 partition of a customer's payments.
func customerPaymentsGSI2PK(customerID string) string { return customerPK + customerID + "#PAY" }

func paymentItem(p *billing.Payment) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(p)
	if err != nil {
		return nil, fmt.Errorf("encode payment %s: %w", p.ID, err)
	}
	for k, v := range paymentKey(p.ID) {
		item[k] = v
	}
	item[resources.GSI1PK] = s(invoicePaymentsGSI1PK(p.InvoiceID))
	item[resources.GSI1SK] = s(p.CreatedAt + "#" + p.ID)
	item[resources.GSI2PK] = s(customerPaymentsGSI2PK(p.CustomerID))
	item[resources.GSI2SK] = s(p.CreatedAt + "#" + p.ID)
	return item, nil
}

func decodePayment(item map[string]types.AttributeValue) (*billing.Payment, error) {
	var p billing.Payment
	if err := attributevalue.UnmarshalMap(item, &p); err != nil {
		return nil, fmt.Errorf("decode payment item: %w", err)
	}
	p.Object = billing.ObjectPayment
	return &p, nil
}

// GetPayment returns a payment, or nil when there is none (strongly consistent).
func (st *Store) GetPayment(ctx context.Context, id string) (*billing.Payment, error) {
	item, err := st.get(ctx, paymentKey(id))
	if err != nil {
		return nil, fmt.Errorf("get payment %s: %w", id, err)
	}
	if item == nil {
		return nil, nil
	}
	return decodePayment(item)
}

// ReadPayment returns a payment for the API, or not_found.
func (st *Store) ReadPayment(ctx context.Context, id string) (*billing.Payment, error) {
	item, err := st.getObject(ctx, billing.PaymentPrefix, id, "payment", paymentKey(id))
	if err != nil {
		return nil, err
	}
	return decodePayment(item)
}

// InvoicePayments returns every payment attempt of an invoice, oldest first.
func (st *Store) InvoicePayments(ctx context.Context, invoiceID string) ([]billing.Payment, error) {
	in := &dynamodb.QueryInput{
		TableName: aws.String(st.Table), IndexName: aws.String(resources.GSI1),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": resources.GSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(invoicePaymentsGSI1PK(invoiceID))},
	}
	var out []billing.Payment
	for {
		page, err := st.DB.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list payments of invoice %s: %w", invoiceID, err)
		}
		for _, item := range page.Items {
			p, err := decodePayment(item)
			if err != nil {
				return nil, err
			}
			out = append(out, *p)
		}
		if page.LastEvaluatedKey == nil {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

func millis(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.UnixMilli(), 10)}
}

// ClaimItems start a payment attempt: the invoice, as read (inv), is claimed for p until the lease
// ends (item 0: on condition that it is still that version, open, with an amount due and no claim), and
// p is stored as processing (item 1). Only one attempt can hold an invoice; a cancellation on item 0
// means another request changed or claimed it first. The claim moves the version on, so a void or
// write-off prepared from an earlier read cannot commit over it.
func (st *Store) ClaimItems(inv *billing.Invoice, p *billing.Payment, until time.Time) ([]types.TransactWriteItem, error) {
	item, err := paymentItem(p)
	if err != nil {
		return nil, err
	}
	return []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(st.Table), Key: invoiceKey(inv.ID),
			UpdateExpression: aws.String("SET #claim = :pay, #until = :until, #v = :next"),
			ConditionExpression: aws.String("#v = :v AND #st = :open AND amount_due > :zero AND " +
				"attribute_not_exists(#claim)"),
			ExpressionAttributeNames: map[string]string{
				"#claim": attrClaimPaymentID, "#until": attrClaimUntil, "#v": attrVersion, "#st": attrStatus,
			},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pay": s(p.ID), ":until": millis(until), ":next": n(inv.Version + 1), ":v": n(inv.Version),
				":open": s(string(billing.Open)), ":zero": n(0),
			},
		}},
		{Put: &types.Put{
			TableName: aws.String(st.Table), Item: item,
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}},
	}, nil
}

// TakeOverItem renews the stale claim of inv (read with it) for the request that recovers its attempt,
// until the new lease ends. The condition on the version makes one request the recoverer; the others'
// take-overs fail.
func (st *Store) TakeOverItem(inv *billing.Invoice, until time.Time) types.TransactWriteItem {
	return st.claimedUpdate(inv, "SET #until = :until, #v = :next",
		map[string]types.AttributeValue{":until": millis(until), ":next": n(inv.Version + 1)})
}

// ExpireClaimItem ends the lease of the claim inv holds now, so that the next pay request recovers the
// attempt at once instead of after the lease. Its holder writes it when it gives up after the card
// processor may have been asked; it changes nothing else.
func (st *Store) ExpireClaimItem(inv *billing.Invoice, at time.Time) types.TransactWriteItem {
	return st.claimedUpdate(inv, "SET #until = :at", map[string]types.AttributeValue{":at": millis(at)})
}

// ReleaseItem ends the claim inv holds (as read, or as claimed) and leaves the invoice open: the
// attempt failed or never reached the processor.
func (st *Store) ReleaseItem(inv *billing.Invoice) types.TransactWriteItem {
	return st.claimedUpdate(inv, "SET #v = :next REMOVE #claim, #until", map[string]types.AttributeValue{":next": n(inv.Version + 1)})
}

// claimedUpdate is update (over #claim, #until, #v and values) of inv's item, on condition that the
// invoice is still at the version read and holds the same claim: a request changes a claim only while
// it is the one it read.
func (st *Store) claimedUpdate(inv *billing.Invoice, update string, values map[string]types.AttributeValue) types.TransactWriteItem {
	values[":pay"], values[":v"] = s(inv.ClaimPaymentID), n(inv.Version)
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(st.Table), Key: invoiceKey(inv.ID),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#v = :v AND #claim = :pay"),
		ExpressionAttributeNames:  map[string]string{"#claim": attrClaimPaymentID, "#until": attrClaimUntil, "#v": attrVersion},
		ExpressionAttributeValues: values,
	}}
}

// PaymentOutcomeItem stores the outcome of attempt p (succeeded or failed), on condition that it is
// still processing: an outcome is written once.
func (st *Store) PaymentOutcomeItem(p *billing.Payment) (types.TransactWriteItem, error) {
	item, err := paymentItem(p)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(st.Table), Item: item,
		ConditionExpression:       aws.String("#st = :processing"),
		ExpressionAttributeNames:  map[string]string{"#st": attrStatus},
		ExpressionAttributeValues: map[string]types.AttributeValue{":processing": s(string(billing.PaymentProcessing))},
	}}, nil
}

// AbandonItem deletes attempt p, which never reached the card processor (its card could not be
// decrypted), on condition that it is still processing. Commit it with ReleaseItem.
func (st *Store) AbandonItem(p *billing.Payment) types.TransactWriteItem {
	return types.TransactWriteItem{Delete: &types.Delete{
		TableName: aws.String(st.Table), Key: paymentKey(p.ID),
		ConditionExpression:       aws.String("#st = :processing"),
		ExpressionAttributeNames:  map[string]string{"#st": attrStatus},
		ExpressionAttributeValues: map[string]types.AttributeValue{":processing": s(string(billing.PaymentProcessing))},
	}}
}
