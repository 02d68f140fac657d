package tokens

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/domain/card"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// ImportEvent is the audit eventName of a card loaded by the operator's bulk import.
const ImportEvent = "ImportToken"

// ImportDB is the DynamoDB calls of an import; *dynamodb.Client satisfies it.
type ImportDB interface {
	CustomerDB
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Importer loads a customer's existing cards into the vault: the operator's path for bulk loads
// (`vaultbill tokens import`), so that the API's card-attempt limit never has to make room for them.
// It validates and tokenizes through the same code as POST /v1/tokens and writes an audit record for
// every card, with the new token in the same transaction. It runs with an operator's AWS credentials,
// never with a user's token, and is not subject to the API's limit.
type Importer struct {
	Vault        *vault.Vault
	DB           ImportDB
	BillingTable string
	Audit        *audit.Store
	// Principal names the operator in the audit records ("cli:<user>").
	Principal       string
	Account, Region string
	// Now is the clock expiry is checked against (time.Now when nil).
	Clock clock.Func
}

// ImportResult counts an import's rows.
type ImportResult struct {
	Created, Existing int
	// Rejected lists the rows that failed validation, never with their numbers.
	Rejected []RowError
}

// RowError is a row that was not loaded: its number in the input (from 1) and why.
type RowError struct {
	Row    int
	Reason string
}

// Import tokenizes cards for customerID in order, zeroing each number once it is sealed, and calls
// done after each row. An invalid card is reported and skipped; a KMS or DynamoDB fault stops the
// import with the rows before it stored. Running the same file again is safe: a card the customer
// already has answers with its token.
func (im *Importer) Import(ctx context.Context, customerID string, cards []card.Input, done func()) (ImportResult, error) {
	var res ImportResult
	defer func() {
		for i := range cards {
			cards[i].Number.Zero()
			cards[i].CVC = ""
		}
	}()
	h := handlers{Deps{Customers: im.DB, BillingTable: im.BillingTable}}
	if ok, err := h.customerExists(ctx, customerID); err != nil {
		return res, err
	} else if !ok {
		return res, fmt.Errorf("no customer %s", customerID)
	}
	for i := range cards {
		err := im.one(ctx, h, customerID, &cards[i], &res)
		var pe *problem.Error
		switch {
		case errors.As(err, &pe) && pe.Code == problem.ValidationFailed:
			res.Rejected = append(res.Rejected, RowError{Row: i + 1, Reason: reason(pe)})
		case err != nil:
			return res, fmt.Errorf("row %d: %w", i+1, err)
		}
		if done != nil {
			done()
		}
	}
	return res, nil
}

func (im *Importer) one(ctx context.Context, h handlers, customerID string, in *card.Input, res *ImportResult) error {
	cd, err := card.Validate(*in, im.Clock.Now(), "")
	// The card shares the input's digits: zeroing either, once the card is sealed, zeroes both.
	defer in.Number.Zero()
	if err != nil {
		return err
	}
	t, err := im.Vault.Tokenize(ctx, customerID, cd)
	if err != nil {
		return err
	}
	if t.Existing {
		res.Existing++
		return im.Audit.Put(ctx, im.record(t.Token, true))
	}
	rec, err := im.Audit.TransactItem(im.record(t.Token, false))
	if err != nil {
		return err
	}
	items := append(t.Items, h.customerCondition(customerID), rec)
	if _, err := im.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		if !vault.DuplicateCard(err) {
			return fmt.Errorf("store token for customer %s: %w", customerID, err)
		}
		// The same card twice in one file, or loaded meanwhile: it is there already.
		existing, gerr := im.Vault.Existing(ctx, customerID, cd)
		if gerr != nil || existing == nil {
			return fmt.Errorf("store token for customer %s: %w", customerID, err)
		}
		res.Existing++
		return im.Audit.Put(ctx, im.record(*existing, true))
	}
	res.Created++
	return nil
}

// record is the audit record of one imported card: ids only.
func (im *Importer) record(t vault.Token, existing bool) audit.Record {
	rec := audit.Service{Source: "tokens.vaultbill", Principal: im.Principal, Account: im.Account, Region: im.Region}.Record(ImportEvent, im.Clock.Now(), nil)
	rec.ReadOnly = existing
	rec.ResponseElements = map[string]string{"id": t.ID, "customer_id": t.CustomerID, "existing": fmt.Sprint(existing)}
	rec.Resources = []audit.Resource{{Type: "customer", ID: t.CustomerID}, {Type: "token", ID: t.ID}}
	return rec
}

// reason is a validation failure as one line: the fields and what is wrong with them.
func reason(e *problem.Error) string {
	if len(e.Fields) == 0 {
		return e.Detail
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + " " + f.Message
	}
	return strings.Join(parts, "; ")
}
