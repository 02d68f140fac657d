package billingdb

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Page limits of list requests (DESIGN §5).
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Page asks for one page of a list, newest first.
type Page struct {
	Limit int
	// After is the position to continue after (a decoded cursor); "" starts at the newest.
	After string
}

// ParsePage reads the limit and cursor query parameters. idPrefix is the prefix of the listed
// objects' ids, so a cursor from one kind of list cannot page another.
func ParsePage(limit, cursor, idPrefix string) (Page, error) {
	p := Page{Limit: DefaultLimit}
	var errs billing.Errors
	if limit != "" {
		v, err := strconv.Atoi(limit)
		if err != nil || v < 1 || v > MaxLimit {
			errs.Add("limit", "must be a whole number from 1 to 100")
		}
		p.Limit = v
	}
	if cursor != "" {
		after, ok := decodeCursor(cursor, idPrefix)
		if !ok {
			errs.Add("cursor", "is not a cursor returned by this list; start again without it")
		}
		p.After = after
	}
	if len(errs) > 0 {
		e := problem.Invalid(errs...)
		e.Malformed = true
		return Page{}, e
	}
	return p, nil
}

// EncodeCursor makes a position opaque to clients.
func EncodeCursor(position string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(position))
}

// decodeCursor accepts only what EncodeCursor produced for this kind of list: "<RFC 3339 time>#<id>".
func decodeCursor(cursor, idPrefix string) (string, bool) {
	if len(cursor) > 128 {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", false
	}
	ts, id, ok := strings.Cut(string(b), "#")
	if !ok || !billing.ValidID(idPrefix, id) {
		return "", false
	}
	if _, err := time.Parse(time.RFC3339, ts); err != nil {
		return "", false
	}
	return string(b), true
}

// List is one page of results.
type List[T any] struct {
	Object     string `json:"object"`
	Data       []T    `json:"data"`
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// listOf cuts items (one more than the limit was fetched) to a page.
func listOf[T any](items []T, limit int, position func(T) string) List[T] {
	l := List[T]{Object: "list", Data: items}
	if l.Data == nil {
		l.Data = []T{}
	}
	if len(items) > limit {
		l.Data, l.HasMore = items[:limit], true
		l.NextCursor = EncodeCursor(position(items[limit-1]))
	}
	return l
}

func customerPosition(c *billing.Customer) string { return c.CreatedAt + "#" + c.ID }
func invoicePosition(i *billing.Invoice) string   { return i.CreatedAt + "#" + i.ID }

// ListCustomers returns a page of customers, newest first (1 Query).
func (st *Store) ListCustomers(ctx context.Context, p Page) (List[*billing.Customer], error) {
	items, err := st.query(ctx, resources.GSI1, customersGSI1PK, p, nil)
	if err != nil {
		return List[*billing.Customer]{}, fmt.Errorf("list customers: %w", err)
	}
	out := make([]*billing.Customer, 0, len(items))
	for _, it := range items {
		c, err := st.openCustomer(ctx, it)
		if err != nil {
			return List[*billing.Customer]{}, err
		}
		out = append(out, c)
	}
	return listOf(out, p.Limit, customerPosition), nil
}

// InvoiceFilter narrows an invoice list; empty fields do not filter.
type InvoiceFilter struct {
	CustomerID string
	Status     billing.Status
}

// ListInvoices returns a page of invoices, newest first.
func (st *Store) ListInvoices(ctx context.Context, f InvoiceFilter, p Page) (List[*billing.Invoice], error) {
	var items []map[string]types.AttributeValue
	var err error
	switch {
	case f.CustomerID != "":
		var filter *string
		if f.Status != "" {
			s := string(f.Status)
			filter = &s
		}
		items, err = st.query(ctx, resources.GSI1, customerInvoicesGSI1PK(f.CustomerID), p, filter)
	case f.Status != "":
		items, err = st.query(ctx, resources.GSI2, statusGSI2PK+string(f.Status), p, nil)
	default:
		items, err = st.queryAllStatuses(ctx, p)
	}
	if err != nil {
		return List[*billing.Invoice]{}, fmt.Errorf("list invoices: %w", err)
	}
	out := make([]*billing.Invoice, 0, len(items))
	for _, it := range items {
		inv, err := decodeInvoice(it)
		if err != nil {
			return List[*billing.Invoice]{}, err
		}
		out = append(out, inv)
	}
	return listOf(out, p.Limit, invoicePosition), nil
}

// queryAllStatuses merges the newest limit+1 invoices of each status partition.
func (st *Store) queryAllStatuses(ctx context.Context, p Page) ([]map[string]types.AttributeValue, error) {
	var all []map[string]types.AttributeValue
	for _, status := range billing.Statuses {
		items, err := st.query(ctx, resources.GSI2, statusGSI2PK+string(status), p, nil)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
	}
	sort.Slice(all, func(i, j int) bool {
		return sortKey(all[i], resources.GSI2SK) > sortKey(all[j], resources.GSI2SK)
	})
	if len(all) > p.Limit+1 {
		all = all[:p.Limit+1]
	}
	return all, nil
}

func sortKey(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// query reads up to p.Limit+1 items of one index partition, newest first, after p.After, with an
// optional status filter.
func (st *Store) query(ctx context.Context, index, pk string, p Page, status *string) ([]map[string]types.AttributeValue, error) {
	var where []condition
	if status != nil {
		where = append(where, condition{attrStatus, *status})
	}
	return st.queryWhere(ctx, index, pk, p, where)
}

// condition is an attribute = value filter of a query.
type condition struct{ attr, value string }

// queryWhere reads up to p.Limit+1 items of one index partition, newest first, after p.After. A filter
// can thin DynamoDB's pages, so it keeps reading until it has enough or the partition ends.
func (st *Store) queryWhere(ctx context.Context, index, pk string, p Page, where []condition) ([]map[string]types.AttributeValue, error) {
	pkName, skName := resources.GSI1PK, resources.GSI1SK
	if index == resources.GSI2 {
		pkName, skName = resources.GSI2PK, resources.GSI2SK
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(st.Table),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": pkName},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(p.Limit + 1)),
	}
	if p.After != "" {
		in.KeyConditionExpression = aws.String("#pk = :pk AND #sk < :after")
		in.ExpressionAttributeNames["#sk"] = skName
		in.ExpressionAttributeValues[":after"] = s(p.After)
	}
	var filters []string
	for i, c := range where {
		name, value := fmt.Sprintf("#f%d", i), fmt.Sprintf(":f%d", i)
		in.ExpressionAttributeNames[name] = c.attr
		in.ExpressionAttributeValues[value] = s(c.value)
		filters = append(filters, name+" = "+value)
	}
	if len(filters) > 0 {
		in.FilterExpression = aws.String(strings.Join(filters, " AND "))
	}
	var out []map[string]types.AttributeValue
	for {
		res, err := st.DB.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("query %s %s: %w", index, pk, err)
		}
		out = append(out, res.Items...)
		if len(out) > p.Limit || res.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
	if len(out) > p.Limit+1 {
		out = out[:p.Limit+1]
	}
	return out, nil
}
