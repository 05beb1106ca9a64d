package jelousim

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// The documented bodies, byte for byte as the vendor page shows them (minus
// indentation).
const (
	bodyUnauthorized = `{"message":"Authentication failed"}`
	bodyValidation   = `{"message":["The values entered are not correct."],"statusMessage":"failed","status":0,"error":{"code":"E0422","key":"VALIDATOR_ERROR"}}`
	bodyRateLimited  = `{"message":"Rate limit exceeded"}`
	bodyInternal     = `{"message":["We are having trouble processing your request. Please try again later."],"statusMessage":"failed","status":0}`
	// Not documented by the vendor.
	bodyUnavailable = `{"message":"Service Unavailable"}`
	bodyNotFound    = `{"message":"Not Found"}`
	bodyMethod      = `{"message":"Method Not Allowed"}`
	bodyBadGateway  = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)

// RowTimeLayout is the layout of startAt and endAt in rows: no zone, in the
// configured location.
const RowTimeLayout = "2006-01-02 15:04:05"

// ActiveEndAt is how rows of active conversations carry endAt and endedReason.
type ActiveEndAt string

// The forms. The zero value means ActiveEndAtNull.
const (
	ActiveEndAtNull  ActiveEndAt = "null"
	ActiveEndAtEmpty ActiveEndAt = "empty"
)

// rowOptions says how to render one row.
type rowOptions struct {
	now      time.Time
	loc      *time.Location
	emptyEnd bool
	corrupt  FaultKind // one of the row faults, or ""
	notes    []byte    // when set, a "notes" member (base64, no escaping needed)
}

// appendRow appends conversation c as a JSON object. It reports the state it
// wrote when that state is a documented one and the _id is present, that is
// when the row counts as serving the pair.
func appendRow(b []byte, c Conversation, o rowOptions) ([]byte, jelou.State, bool) {
	state := c.StateAt(o.now)
	terminal := state.Terminal()
	intact := true
	b = append(b, '{')
	if o.corrupt == FaultMissingID {
		intact = false
	} else {
		b = append(b, `"_id":`...)
		b = appendString(b, c.ID)
		b = append(b, ',')
	}
	b = append(b, `"operator":{"names":`...)
	b = appendString(b, c.OperatorNames)
	b = append(b, `},"user":{"id":`...)
	b = appendString(b, c.UserID)
	b = append(b, `},"bot":{"name":`...)
	b = appendString(b, c.BotName)
	b = append(b, `},"company":{"id":`...)
	if o.corrupt == FaultWrongTypes {
		b = append(b, c.CompanyID...) // a number instead of a string
	} else {
		b = appendString(b, c.CompanyID)
	}
	b = append(b, `},"assignationMethod":{"teamName":`...)
	b = appendString(b, c.TeamName)
	b = append(b, `},`...)
	switch o.corrupt {
	case FaultMissingState:
		intact = false
	case FaultUnknownState:
		intact = false
		b = append(b, `"state":"pending",`...)
	default:
		b = append(b, `"state":`...)
		b = appendString(b, string(state))
		b = append(b, ',')
	}
	b = append(b, `"endedReason":`...)
	b = appendOptional(b, c.EndedReason, terminal, o.emptyEnd)
	b = append(b, `,"startAt":`...)
	if o.corrupt == FaultAbsurdDates {
		b = append(b, `"0000-00-00 00:00:00","endAt":"9999-99-99 99:99:99"`...)
	} else {
		b = appendString(b, c.Start.In(o.loc).Format(RowTimeLayout))
		b = append(b, `,"endAt":`...)
		b = appendOptional(b, c.Transition.In(o.loc).Format(RowTimeLayout), terminal, o.emptyEnd)
	}
	b = append(b, `,"origin":`...)
	b = appendString(b, c.Origin)
	duration := c.DurationMs
	if !terminal {
		duration = o.now.Sub(c.Start).Milliseconds()
	}
	b = append(b, `,"timeRepliedOperator":`...)
	b = appendNumber(b, c.RepliedMs, o.corrupt == FaultWrongTypes)
	b = append(b, `,"conversationDuration":`...)
	b = appendNumber(b, duration, o.corrupt == FaultWrongTypes)
	b = append(b, `,"tags":[`...)
	for i, t := range c.Tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, t)
	}
	b = append(b, ']')
	if o.notes != nil {
		b = append(b, `,"notes":"`...)
		b = append(b, o.notes...)
		b = append(b, '"')
	}
	b = append(b, '}')
	return b, state, intact
}

func appendOptional(b []byte, s string, present, empty bool) []byte {
	switch {
	case present:
		return appendString(b, s)
	case empty:
		return append(b, `""`...)
	}
	return append(b, "null"...)
}

func appendNumber(b []byte, n int64, quoted bool) []byte {
	if quoted {
		b = append(b, '"')
		b = strconv.AppendInt(b, n, 10)
		return append(b, '"')
	}
	return strconv.AppendInt(b, n, 10)
}

// appendString appends s as a JSON string. UTF-8 passes through; quotes,
// backslashes, control characters and invalid bytes are escaped.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}

// pagination is the paging block of a 200 body.
type pagination struct {
	limit, page, total, offset, totalPages int
}

// appendEnvelopeHead appends everything of a 200 body up to the opening
// bracket of "results".
func appendEnvelopeHead(b []byte) []byte {
	return append(b, `{"message":["Retrieving conversations succeeded"],"status":"success","results":[`...)
}

// appendEnvelopeTail closes "results" and appends pagination and links.
// Links list the previous, current and next pages that exist, as the
// vendor's sample (page 1 of 61 lists pages 1 and 2) suggests.
func appendEnvelopeTail(b []byte, p pagination, includePage bool) []byte {
	b = append(b, `],"pagination":{"limit":`...)
	b = strconv.AppendInt(b, int64(p.limit), 10)
	if includePage {
		b = append(b, `,"page":`...)
		b = strconv.AppendInt(b, int64(p.page), 10)
	}
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(p.total), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, int64(p.offset), 10)
	b = append(b, `,"totalPages":`...)
	b = strconv.AppendInt(b, int64(p.totalPages), 10)
	b = append(b, `},"links":[`...)
	first := true
	for n := max(1, p.page-1); n <= min(p.totalPages, p.page+1); n++ {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"number":`...)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, `,"url":"`...)
		b = append(b, APIPath...)
		b = append(b, `?limit=`...)
		b = strconv.AppendInt(b, int64(p.limit), 10)
		b = append(b, `&page=`...)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...)
}
