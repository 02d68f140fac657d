package audit

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestServiceRecord: a record of work no request carries names its source and principal as an AWS
// service without MFA, and a failure carries its code and a message cut to CloudTrail's bound.
func TestServiceRecord(t *testing.T) {
	s := Service{Source: "backup.vaultbill", Principal: "cli:ops", Account: "123456789012", Region: "eu-west-1"}
	at := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)

	ok := s.Record("Backup", at, nil)
	if ok.EventSource != s.Source || ok.SourceIPAddress != s.Source || ok.UserAgent != s.Source || ok.EventName != "Backup" ||
		ok.EventType != TypeServiceEvent || ok.EventTime != "2026-11-29T08:00:00Z" || ok.EventVersion != EventVersion {
		t.Errorf("record head: %+v", ok)
	}
	if ok.UserIdentity.Type != "AWSService" || ok.UserIdentity.PrincipalID != "cli:ops" ||
		ok.UserIdentity.SessionContext.Attributes.MFAAuthenticated != "false" {
		t.Errorf("identity: %+v", ok.UserIdentity)
	}
	if ok.RecipientAccountID != s.Account || ok.AWSRegion != s.Region || ok.EventID == "" || ok.RequestID == "" || ok.EventID == ok.RequestID {
		t.Errorf("ids and stack: %+v", ok)
	}
	if ok.ErrorCode != "" || ok.ErrorMessage != "" {
		t.Errorf("a run without error has errorCode %q, errorMessage %q", ok.ErrorCode, ok.ErrorMessage)
	}

	failed := s.Record("Backup", at, errors.New(strings.Repeat("x", 2000)))
	if failed.ErrorCode != "BackupFailed" || len(failed.ErrorMessage) != maxErrorMessage+len("...") {
		t.Errorf("failed run: errorCode %q, errorMessage of %d bytes", failed.ErrorCode, len(failed.ErrorMessage))
	}

	// A card number across the cut: what remains of it must not be a run of its digits.
	split := s.Record("Backup", at, errors.New(strings.Repeat("x", maxErrorMessage-13)+" 4242424242424242 failed"))
	if strings.Contains(split.ErrorMessage, "42424242") {
		t.Errorf("the cut left part of a card number: %q", split.ErrorMessage[maxErrorMessage-20:])
	}
}
