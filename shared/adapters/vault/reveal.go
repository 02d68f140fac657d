package vault

import (
	"context"
	"errors"
	"fmt"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/envelope"
	"github.com/vaultbill/vaultbill/shared/domain/card"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// DetokenizeEvent is the audit eventName of every decryption of a card number.
const DetokenizeEvent = "Detokenize"

// RevealRequest asks for a token's card number, for a charge.
type RevealRequest struct {
	TokenID string
	// CustomerID is the customer being charged (the invoice's customer). A token of another customer
	// is not found: a card is only ever charged for its own customer.
	CustomerID string
	// Record is the audit record of the decryption, built in the request's context with
	// endpoint.Call.AuditEvent(vault.DetokenizeEvent, true). Reveal sets its name and resources and
	// writes it before decrypting; if it cannot be written, nothing is decrypted.
	Record audit.Record
}

// Reveal decrypts a token's card in memory, for the payments function to charge it (DESIGN §6.1:
// tokens encrypts, payments decrypts; nothing else). The card's number never leaves memory: the
// returned Card prints, logs and marshals as metadata only. Zero it as soon as the charge is sent:
//
//	c, err := v.Reveal(ctx, vault.RevealRequest{TokenID: id, CustomerID: inv.CustomerID,
//		Record: call.AuditEvent(vault.DetokenizeEvent, true)})
//	if err != nil { return err }
//	defer c.Zero()
//	result, err := processor.Charge(ctx, c, amount)
func (v *Vault) Reveal(ctx context.Context, r RevealRequest) (card.Card, error) {
	tok, it, err := v.get(ctx, r.TokenID)
	if err != nil {
		return card.Card{}, err
	}
	if tok == nil || r.CustomerID == "" || tok.CustomerID != r.CustomerID {
		return card.Card{}, problem.New(problem.NotFound, "No such token.")
	}
	rec := r.Record
	rec.EventName = DetokenizeEvent
	rec.ReadOnly = true
	rec.Resources = []audit.Resource{{Type: "token", ID: tok.ID}, {Type: "customer", ID: tok.CustomerID}}
	if rec.EventID == "" {
		rec.EventID = audit.NewEventID()
	}
	if rec.EventTime == "" {
		rec.EventTime = audit.FormatTime(v.Clock.Now())
	}
	if rec.EventVersion == "" {
		rec.EventVersion, rec.EventType = audit.EventVersion, audit.TypeServiceEvent
	}
	if v.audit == nil {
		return card.Card{}, errors.New("reveal: the vault has no audit store; refusing to decrypt unaudited")
	}
	if err := v.audit.Put(ctx, rec); err != nil {
		return card.Card{}, fmt.Errorf("audit detokenization of %s: %w", tok.ID, err)
	}
	plain, err := v.env.Open(ctx, envelope.Sealed{Ciphertext: it.Ciphertext, WrappedKey: it.WrappedKey, KeyID: it.KeyID}, []byte(tok.ID))
	if err != nil {
		return card.Card{}, unavailable(fmt.Errorf("open token %s: %w", tok.ID, err))
	}
	defer clear(plain)
	version, pan, sealedName, err := decodePayload(plain)
	if err != nil {
		return card.Card{}, fmt.Errorf("token %s: %w", tok.ID, err)
	}
	name, err := v.openName(ctx, tok, version, sealedName)
	if err != nil {
		pan.Zero()
		return card.Card{}, err
	}
	return card.Card{Number: pan, Brand: tok.Brand, ExpMonth: tok.ExpMonth, ExpYear: tok.ExpYear, Name: name}, nil
}
