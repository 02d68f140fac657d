// Package tokens serves the card vault's HTTP routes: tokenize a card, read token metadata, list a
// customer's tokens, and delete (crypto-shred) a token. Responses carry metadata only: brand, BIN,
// last four digits, expiry and the keyed fingerprint.
package tokens

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/card"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// CustomerDB reads customers in the billing table; *dynamodb.Client satisfies it.
type CustomerDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// CardAttempts counts and limits card attempts; *ratelimit.Limiter satisfies it.
type CardAttempts interface {
	Attempt(ctx context.Context, principal, customer string) error
}

// Deps is what the routes are built from.
type Deps struct {
	Vault *vault.Vault
	// Attempts limits tokenizations per principal and per customer; a card that fails validation is an
	// attempt too (card testing).
	Attempts CardAttempts
	// Customers and BillingTable locate customers: pk "CUS#<id>", sk "CUS" in the billing table, the key
	// the invoicing function stores them under. Only the key's existence is read, never the customer.
	Customers    CustomerDB
	BillingTable string
	// Clock is the clock that card expiry is checked against (the system clock when nil).
	Clock clock.Func
}

// Response shapes.
type (
	// TokenResponse is a token as the API shows it.
	TokenResponse struct {
		ID         string       `json:"id"`
		Object     string       `json:"object"`
		CustomerID string       `json:"customer_id"`
		Card       CardResponse `json:"card"`
		CreatedAt  string       `json:"created_at"`
	}
	// CardResponse is a card's displayable metadata (PCI DSS 3.4.1: at most BIN and last four).
	CardResponse struct {
		Brand       card.Brand `json:"brand"`
		BIN         string     `json:"bin"`
		Last4       string     `json:"last4"`
		ExpMonth    int        `json:"exp_month"`
		ExpYear     int        `json:"exp_year"`
		Fingerprint string     `json:"fingerprint"`
	}
	// ListResponse is a page of tokens.
	ListResponse struct {
		Object     string          `json:"object"`
		Data       []TokenResponse `json:"data"`
		HasMore    bool            `json:"has_more"`
		NextCursor string          `json:"next_cursor,omitempty"`
	}
	// DeletedResponse answers DELETE /v1/tokens/{id}.
	DeletedResponse struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Deleted bool   `json:"deleted"`
	}
)

// CreateRequest is the body of POST /v1/tokens.
type CreateRequest struct {
	CustomerID string     `json:"customer_id"`
	Card       card.Input `json:"card"`
}

// Render turns token metadata into its response.
func Render(t vault.Token) TokenResponse {
	return TokenResponse{
		ID: t.ID, Object: "token", CustomerID: t.CustomerID,
		Card: CardResponse{
			Brand: t.Brand, BIN: t.BIN, Last4: t.Last4, ExpMonth: t.ExpMonth, ExpYear: t.ExpYear, Fingerprint: t.Fingerprint,
		},
		CreatedAt: t.Created.UTC().Format(time.RFC3339),
	}
}

type handlers struct{ Deps }

// Routes adds the token routes to svc over the given dependencies.
func Routes(svc *endpoint.Service, d Deps) {
	if d.Attempts == nil {
		panic("tokens: no card-attempt limiter") // a wiring bug, found at cold start
	}
	h := handlers{d}
	svc.RequestHash = d.Vault.RequestHash
	svc.Handle("CreateToken", h.create)
	svc.Handle("CreateHostedPageToken", h.create)
	svc.Handle("GetToken", h.get)
	svc.Handle("ListCustomerTokens", h.list)
	svc.Handle("DeleteToken", h.delete)
}

func notFound(what string) error { return problem.New(problem.NotFound, "No such %s.", what) }

func (h handlers) create(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	var req CreateRequest
	err := c.Decode(&req)
	defer req.Card.Number.Zero()
	if err != nil {
		return nil, err
	}
	if req.CustomerID == "" {
		return nil, problem.Invalid(problem.FieldError{Field: "customer_id", Message: "is required"})
	}
	c.Touch("customer", req.CustomerID)
	if !c.Principal.CanAccess(auth.WriteTokens, req.CustomerID) {
		return nil, notFound("customer")
	}
	// Counted before the card is looked at: an answer about a card (invalid, new, or the customer's
	// existing token) is what enumeration and card testing are after.
	if err := h.Attempts.Attempt(ctx, c.Principal.ID, req.CustomerID); err != nil {
		return nil, err
	}
	cd, err := card.Validate(req.Card, h.Clock.Now(), "card.")
	req.Card.CVC = "" // checked; it goes no further (PCI DSS 3.3.1.2)
	if err != nil {
		return nil, err
	}
	if item, err := h.customerItem(ctx, req.CustomerID); err != nil {
		return nil, err
	} else if item == nil {
		return nil, notFound("customer")
	} else if _, erased := item["erased_at"]; erased {
		return nil, billing.ErrErased()
	}

	t, err := h.Vault.Tokenize(ctx, req.CustomerID, cd)
	if err != nil {
		return nil, err
	}
	c.Touch("token", t.Token.ID)
	if t.Existing {
		return &endpoint.Result{Status: http.StatusOK, Body: Render(t.Token)}, nil
	}
	items := append(t.Items, h.customerCondition(req.CustomerID))
	res, err := c.Commit(ctx, http.StatusCreated, Render(t.Token), items...)
	if err == nil {
		return res, nil
	}
	switch {
	case vault.DuplicateCard(err):
		// A concurrent request stored the same card first: answer with its token.
		existing, gerr := h.Vault.Existing(ctx, req.CustomerID, cd)
		if gerr != nil || existing == nil {
			return nil, errors.Join(err, gerr)
		}
		c.Resources[len(c.Resources)-1].ID = existing.ID
		return &endpoint.Result{Status: http.StatusOK, Body: Render(*existing)}, nil
	case conditionFailed(err, len(items)-1):
		return nil, notFound("customer") // deleted while the card was being sealed
	}
	return nil, err
}

func (h handlers) get(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	tok, err := h.visibleToken(ctx, c, auth.ReadTokens)
	if err != nil {
		return nil, err
	}
	return &endpoint.Result{Status: http.StatusOK, Body: Render(*tok)}, nil
}

func (h handlers) delete(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	tok, err := h.visibleToken(ctx, c, auth.WriteTokens)
	if err != nil {
		return nil, err
	}
	res, err := c.Commit(ctx, http.StatusOK, DeletedResponse{ID: tok.ID, Object: "token", Deleted: true}, h.Vault.DeleteItems(*tok)...)
	if conditionFailed(err, 0) {
		return nil, notFound("token") // deleted concurrently
	}
	return res, err
}

// visibleToken loads the token of the path and hides it (404) from a caller who may not see it.
func (h handlers) visibleToken(ctx context.Context, c *endpoint.Call, action auth.Action) (*vault.Token, error) {
	id := c.PathParam("id")
	c.Touch("token", id)
	tok, err := h.Vault.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if tok == nil || !c.Principal.CanAccess(action, tok.CustomerID) {
		return nil, notFound("token")
	}
	return tok, nil
}

func (h handlers) list(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	customerID := c.PathParam("id")
	c.Touch("customer", customerID)
	limit, err := parseLimit(c.Query("limit"))
	if err != nil {
		return nil, err
	}
	if !c.Principal.CanAccess(auth.ReadTokens, customerID) {
		return nil, notFound("customer")
	}
	if ok, err := h.customerExists(ctx, customerID); err != nil {
		return nil, err
	} else if !ok {
		return nil, notFound("customer")
	}
	page, err := h.Vault.List(ctx, customerID, limit, c.Query("cursor"))
	if err != nil {
		return nil, err
	}
	out := ListResponse{Object: "list", Data: []TokenResponse{}, HasMore: page.HasMore, NextCursor: page.NextCursor}
	for _, t := range page.Tokens {
		out.Data = append(out.Data, Render(t))
	}
	return &endpoint.Result{Status: http.StatusOK, Body: out}, nil
}

// Page size bounds (DESIGN §5).
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

func parseLimit(s string) (int, error) {
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		e := problem.Malformed("The limit must be an integer from 1 to %d.", MaxLimit)
		e.Fields = []problem.FieldError{{Field: "limit", Message: fmt.Sprintf("must be from 1 to %d", MaxLimit)}}
		return 0, e
	}
	return n, nil
}

func customerKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		resources.PK: &types.AttributeValueMemberS{Value: "CUS#" + id},
		resources.SK: &types.AttributeValueMemberS{Value: "CUS"},
	}
}

func (h handlers) customerExists(ctx context.Context, id string) (bool, error) {
	item, err := h.customerItem(ctx, id)
	return item != nil, err
}

// customerItem reads a customer's id and erasure mark only (never its personal data), or nil.
func (h handlers) customerItem(ctx context.Context, id string) (map[string]types.AttributeValue, error) {
	out, err := h.Customers.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(h.BillingTable), Key: customerKey(id),
		ProjectionExpression: aws.String(resources.PK + ", erased_at"), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read customer %s: %w", id, err)
	}
	return out.Item, nil
}

// customerCondition makes the new token's transaction fail if the customer has gone meanwhile.
func (h handlers) customerCondition(id string) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String(h.BillingTable), Key: customerKey(id),
		// An erasure committed meanwhile fails it too.
		ConditionExpression: aws.String("attribute_exists(" + resources.PK + ") AND attribute_not_exists(erased_at)"),
	}}
}

func conditionFailed(err error, index int) bool {
	var tc *types.TransactionCanceledException
	return errors.As(err, &tc) && index < len(tc.CancellationReasons) &&
		aws.ToString(tc.CancellationReasons[index].Code) == "ConditionalCheckFailed"
}
