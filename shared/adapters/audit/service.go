package audit

import (
	"time"

	"github.com/vaultbill/vaultbill/shared/api/logging"
)

// maxErrorMessage bounds a record's errorMessage, as CloudTrail does.
const maxErrorMessage = 512

// Service names who does work that no API request carries (an operator command, a scheduled job, an
// import) in its audit records.
type Service struct {
	// Source is the records' eventSource, e.g. "backup.vaultbill".
	Source string
	// Principal names who ran it ("cli:<user>", or the function); Account and Region are the stack's.
	Principal, Account, Region string
}

// Record is the audit record of event name of s at the time at: an AWSService identity (no person
// signed in to it, so no MFA), with fresh event and request ids. A failed run (err) carries the
// errorCode "<name>Failed" and err's text, redacted and then cut after 512 bytes (marked "..."): a
// cut through a card number would leave a run of its digits too short for the store's last check to
// find. The caller adds the parameters, elements and resources.
func (s Service) Record(name string, at time.Time, err error) Record {
	rec := Record{
		EventVersion: EventVersion, EventID: NewEventID(), EventTime: FormatTime(at),
		EventSource: s.Source, EventName: name, EventType: TypeServiceEvent,
		UserIdentity: UserIdentity{
			Type: "AWSService", PrincipalID: s.Principal,
			SessionContext: SessionContext{Attributes: SessionAttributes{MFAAuthenticated: "false"}},
		},
		SourceIPAddress: s.Source, UserAgent: s.Source, RequestID: NewEventID(),
		RecipientAccountID: s.Account, AWSRegion: s.Region,
	}
	if err != nil {
		rec.ErrorCode = name + "Failed"
		if rec.ErrorMessage = logging.Redact(err.Error()); len(rec.ErrorMessage) > maxErrorMessage {
			rec.ErrorMessage = rec.ErrorMessage[:maxErrorMessage] + "..."
		}
	}
	return rec
}
