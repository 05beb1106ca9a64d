package publish

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/segmentio/kafka-go"
)

func TestClassify(t *testing.T) {
	dialRefused := &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "x"}}
	tests := []struct {
		name      string
		err       error
		kind      Kind
		retriable bool
	}{
		{"writer's own too large", kafka.MessageTooLargeError{}, KindTooLarge, false},
		{"broker's too large", kafka.MessageSizeTooLarge, KindTooLarge, false},
		{"record list too large", kafka.RecordListTooLarge, KindTooLarge, false},
		{"topic authorization", fmt.Errorf("produce: %w", kafka.TopicAuthorizationFailed), KindAuthorization, false},
		{"cluster authorization", kafka.ClusterAuthorizationFailed, KindAuthorization, false},
		{"SASL authentication", kafka.SASLAuthenticationFailed, KindAuthorization, false},
		{"SASL mechanism", kafka.UnsupportedSASLMechanism, KindAuthorization, false},
		{"unknown topic", kafka.UnknownTopicOrPartition, KindTopic, false},
		{"invalid topic", kafka.InvalidTopic, KindTopic, false},
		{"invalid record", kafka.InvalidRecord, KindInvalid, false},
		{"invalid timestamp", kafka.InvalidTimestamp, KindInvalid, false},
		{"leader not available", kafka.LeaderNotAvailable, KindUnavailable, true},
		{"not leader", kafka.NotLeaderForPartition, KindUnavailable, true},
		{"not enough replicas", kafka.NotEnoughReplicas, KindUnavailable, true},
		{"request timed out", kafka.RequestTimedOut, KindTimeout, true},
		{"other retriable kafka error", kafka.GroupLoadInProgress, KindOther, true},
		{"other fatal kafka error", kafka.DuplicateSequenceNumber, KindOther, false},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), KindUnavailable, true},
		{"connection reset", syscall.ECONNRESET, KindUnavailable, true},
		{"unexpected EOF", io.ErrUnexpectedEOF, KindUnavailable, true},
		{"net error", dialRefused, KindUnavailable, true},
		{"network timeout", &net.DNSError{IsTimeout: true}, KindTimeout, true},
		{"deadline", context.DeadlineExceeded, KindTimeout, true},
		{"canceled", context.Canceled, KindCanceled, true},
		{"closed writer", io.ErrClosedPipe, KindClosed, false},
		{"unknown CA", fmt.Errorf("tls: %w", x509.UnknownAuthorityError{}), KindTLS, false},
		{"TLS alert from the broker", &net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}, KindTLS, false},
		{"anything else", errors.New("boom"), KindOther, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KindOf(tt.err); got != tt.kind {
				t.Errorf("KindOf(%v) = %q, want %q", tt.err, got, tt.kind)
			}
			if got := IsRetriable(tt.err); got != tt.retriable {
				t.Errorf("IsRetriable(%v) = %t, want %t", tt.err, got, tt.retriable)
			}
			we := writeError("t", 3, tt.err)
			wraps := !reflect.TypeOf(tt.err).Comparable() || errors.Is(we, tt.err)
			if we.Kind != tt.kind || we.Retriable != tt.retriable || we.Failed != 3 || !wraps {
				t.Errorf("writeError = %+v, want kind %q retriable %t, 3 failed, wrapping the cause", we, tt.kind, tt.retriable)
			}
		})
	}
	if KindOf(nil) != "" || IsRetriable(nil) {
		t.Errorf("nil error classified as %q, retriable %t", KindOf(nil), IsRetriable(nil))
	}
}

func TestWriteErrorsPickTheFatalCause(t *testing.T) {
	errs := kafka.WriteErrors{nil, kafka.NotLeaderForPartition, nil, kafka.MessageSizeTooLarge, kafka.LeaderNotAvailable}
	we := writeError("events", len(errs), errs)
	if we.Failed != 3 || we.Records != 5 {
		t.Errorf("Failed/Records = %d/%d, want 3/5", we.Failed, we.Records)
	}
	if we.Kind != KindTooLarge || we.Retriable {
		t.Errorf("kind %q retriable %t, want too_large and fatal: one fatal record fails the call for good", we.Kind, we.Retriable)
	}
	if !errors.Is(we, kafka.MessageSizeTooLarge) {
		t.Errorf("errors.Is(MessageSizeTooLarge) = false for %v", we)
	}
	want := `publish 5 records to topic "events": 3 failed (too_large, fatal): [10] Message Size Too Large`
	if !strings.HasPrefix(we.Error(), want) {
		t.Errorf("Error() = %q, want prefix %q", we.Error(), want)
	}

	onlyRetriable := writeError("events", 2, kafka.WriteErrors{kafka.NotLeaderForPartition, nil})
	if onlyRetriable.Kind != KindUnavailable || !onlyRetriable.Retriable || onlyRetriable.Failed != 1 {
		t.Errorf("got %+v, want one retriable unavailable failure", onlyRetriable)
	}
	var asWrite *WriteError
	if !errors.As(fmt.Errorf("poll: %w", onlyRetriable), &asWrite) || !IsRetriable(fmt.Errorf("poll: %w", onlyRetriable)) {
		t.Errorf("a wrapped *WriteError is not found by errors.As / IsRetriable")
	}
}

func TestTopicErrorMessages(t *testing.T) {
	brokers := []string{"a:9092", "b:9092"}
	tests := []struct {
		err  *TopicError
		want string
	}{
		{&TopicError{Op: "check topic", Topic: "x", Brokers: brokers, Kind: KindTopic},
			`topic "x" does not exist on brokers [a:9092 b:9092]; create it or set KAFKA_TOPIC_CREATE=true`},
		{&TopicError{Op: "check topic", Topic: "x", Brokers: brokers, Kind: KindUnavailable, Err: syscall.ECONNREFUSED},
			`cannot reach Kafka brokers [a:9092 b:9092] (check topic "x"): connection refused`},
		{&TopicError{Op: "check topic", Topic: "x", Brokers: brokers, Kind: KindAuthorization, Err: kafka.SASLAuthenticationFailed},
			`check topic "x" on brokers [a:9092 b:9092]: not authorized (check the SASL credentials and the topic's ACLs): [58] SASL Authentication Failed`},
	}
	for _, tt := range tests {
		t.Run(string(tt.err.Kind), func(t *testing.T) {
			if got := tt.err.Error(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("Error() =\n%s\nwant prefix\n%s", got, tt.want)
			}
			if got := KindOf(fmt.Errorf("startup: %w", tt.err)); got != tt.err.Kind {
				t.Errorf("KindOf = %q, want %q", got, tt.err.Kind)
			}
		})
	}
}
