package publish

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/segmentio/kafka-go"
)

// Kind names a class of failure. Kinds are stable strings, fit for a metric
// label.
type Kind string

// Kinds of failure. Whether one is retriable is stated on each; KindOther is
// retriable when the broker says its error is.
const (
	// KindTooLarge: a record exceeds Config.BatchBytes or the broker's
	// message size limit. Fatal.
	KindTooLarge Kind = "too_large"
	// KindAuthorization: SASL authentication failed or the principal may not
	// describe or write the topic. Fatal.
	KindAuthorization Kind = "authorization"
	// KindTopic: the topic does not exist or its name is invalid. Fatal.
	KindTopic Kind = "topic"
	// KindInvalid: the broker rejected a record or request as malformed or
	// unsupported (invalid record, timestamp, compression, acks). Fatal.
	KindInvalid Kind = "invalid"
	// KindTLS: the TLS handshake failed, for example on an unknown
	// certificate authority or a name mismatch. Fatal.
	KindTLS Kind = "tls"
	// KindClosed: the Publisher was closed. Fatal.
	KindClosed Kind = "closed"
	// KindUnavailable: brokers unreachable, connection lost, leader not
	// available or moved, not enough replicas. Retriable.
	KindUnavailable Kind = "unavailable"
	// KindTimeout: a request or the caller's deadline timed out. Retriable.
	KindTimeout Kind = "timeout"
	// KindCanceled: the caller cancelled the context. Retriable (the same
	// call may succeed when made again).
	KindCanceled Kind = "canceled"
	// KindOther: anything else.
	KindOther Kind = "other"
)

// WriteError is the error of a failed [Publisher.Publish] call. Some of the
// call's records may have been written anyway.
type WriteError struct {
	// Topic is the topic written to.
	Topic string
	// Records is the number of records in the call; Failed how many of them
	// the writer reported as failed (Records when the whole call failed
	// before or while sending).
	Records, Failed int
	// Kind classifies Err.
	Kind Kind
	// Retriable reports whether making the same call again may succeed.
	Retriable bool
	// Err is the cause: the first fatal failure, else the first failure.
	Err error
}

// Error describes the failure in one line.
func (e *WriteError) Error() string {
	what := "fatal"
	if e.Retriable {
		what = "retriable"
	}
	return fmt.Sprintf("publish %d records to topic %q: %d failed (%s, %s): %v", e.Records, e.Topic, e.Failed, e.Kind, what, e.Err)
}

// Unwrap returns the cause.
func (e *WriteError) Unwrap() error { return e.Err }

// Temporary reports whether the call may succeed if made again.
func (e *WriteError) Temporary() bool { return e.Retriable }

// TopicError is the error of a startup or readiness check ([New], [Check],
// [Publisher.Ping], [Publisher.CheckTopic]): brokers unreachable, topic
// missing, not authorised.
type TopicError struct {
	// Op is what was being done: "connect", "check topic" or "create topic".
	Op string
	// Topic and Brokers are what it was done to.
	Topic   string
	Brokers []string
	// Kind classifies the failure; KindTopic means the topic is missing.
	Kind Kind
	// Err is the cause, nil for a missing topic.
	Err error
}

// Error describes the failure and, where there is one, the remedy.
func (e *TopicError) Error() string {
	switch {
	case e.Kind == KindTopic && e.Err == nil:
		return fmt.Sprintf("topic %q does not exist on brokers %v; create it or set KAFKA_TOPIC_CREATE=true", e.Topic, e.Brokers)
	case e.Kind == KindAuthorization:
		return fmt.Sprintf("%s %q on brokers %v: not authorized (check the SASL credentials and the topic's ACLs): %v", e.Op, e.Topic, e.Brokers, e.Err)
	case e.Kind == KindTLS:
		return fmt.Sprintf("%s %q on brokers %v: TLS handshake failed (check the CA file and the server name): %v", e.Op, e.Topic, e.Brokers, e.Err)
	case e.Kind == KindUnavailable || e.Kind == KindTimeout:
		return fmt.Sprintf("cannot reach Kafka brokers %v (%s %q): %v", e.Brokers, e.Op, e.Topic, e.Err)
	default:
		return fmt.Sprintf("%s %q on brokers %v: %v", e.Op, e.Topic, e.Brokers, e.Err)
	}
}

// Unwrap returns the cause.
func (e *TopicError) Unwrap() error { return e.Err }

// Temporary reports whether the check may pass if made again.
func (e *TopicError) Temporary() bool { return retriable(e.Kind, e.Err) }

// KindOf classifies err. It returns "" for nil.
func KindOf(err error) Kind {
	var we *WriteError
	if errors.As(err, &we) {
		return we.Kind
	}
	var te *TopicError
	if errors.As(err, &te) {
		return te.Kind
	}
	return classify(err)
}

// IsRetriable reports whether the operation that returned err may succeed
// if made again. It is false for nil.
func IsRetriable(err error) bool {
	if err == nil {
		return false
	}
	var we *WriteError
	if errors.As(err, &we) {
		return we.Retriable
	}
	return retriable(KindOf(err), err)
}

// retriable reports whether a failure of kind k with cause err may pass on
// a second try.
func retriable(k Kind, err error) bool {
	switch k {
	case KindUnavailable, KindTimeout, KindCanceled:
		return true
	case KindOther:
		var ke kafka.Error
		if errors.As(err, &ke) {
			return ke.Temporary()
		}
		return true
	default:
		return false
	}
}

// classify maps an error of kafka-go, the network or the context to a Kind.
func classify(err error) Kind {
	if err == nil {
		return ""
	}
	var tooLarge kafka.MessageTooLargeError
	if errors.As(err, &tooLarge) {
		return KindTooLarge
	}
	var ke kafka.Error
	if errors.As(err, &ke) {
		return kafkaKind(ke)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return KindCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return KindTimeout
	case errors.Is(err, io.ErrClosedPipe):
		return KindClosed
	}
	var (
		verifyErr    *tls.CertificateVerificationError
		authorityErr x509.UnknownAuthorityError
		hostErr      x509.HostnameError
		invalidErr   x509.CertificateInvalidError
		recordErr    tls.RecordHeaderError
		alertErr     tls.AlertError
	)
	if errors.As(err, &verifyErr) || errors.As(err, &authorityErr) || errors.As(err, &hostErr) ||
		errors.As(err, &invalidErr) || errors.As(err, &recordErr) || errors.As(err, &alertErr) {
		return KindTLS
	}
	// crypto/tls reports an alert from the broker (certificate required,
	// bad certificate) as a *net.OpError with Op "remote error".
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "remote error" {
		return KindTLS
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return KindTimeout
	}
	if ne != nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return KindUnavailable
	}
	return KindOther
}

// kafkaKind maps a Kafka protocol error code to a Kind.
func kafkaKind(e kafka.Error) Kind {
	switch e {
	case kafka.MessageSizeTooLarge, kafka.RecordListTooLarge:
		return KindTooLarge
	case kafka.TopicAuthorizationFailed, kafka.ClusterAuthorizationFailed, kafka.GroupAuthorizationFailed,
		kafka.TransactionalIDAuthorizationFailed, kafka.SASLAuthenticationFailed, kafka.UnsupportedSASLMechanism,
		kafka.IllegalSASLState, kafka.DelegationTokenAuthorizationFailed:
		return KindAuthorization
	case kafka.UnknownTopicOrPartition, kafka.InvalidTopic, kafka.UnknownTopicID:
		return KindTopic
	case kafka.InvalidRecord, kafka.InvalidTimestamp, kafka.InvalidRequiredAcks, kafka.UnsupportedCompressionType,
		kafka.UnsupportedVersion, kafka.InvalidRequest, kafka.UnsupportedForMessageFormat, kafka.PolicyViolation,
		kafka.InvalidPartitionNumber, kafka.InvalidReplicationFactor, kafka.InvalidConfiguration:
		return KindInvalid
	case kafka.RequestTimedOut:
		return KindTimeout
	case kafka.LeaderNotAvailable, kafka.NotLeaderForPartition, kafka.NetworkException, kafka.NotEnoughReplicas,
		kafka.NotEnoughReplicasAfterAppend, kafka.BrokerNotAvailable, kafka.ReplicaNotAvailable, kafka.KafkaStorageError,
		kafka.NotController, kafka.FencedLeaderEpoch, kafka.UnknownLeaderEpoch, kafka.ThrottlingQuotaExceeded:
		return KindUnavailable
	default:
		return KindOther
	}
}

// writeError builds the *WriteError of a failed write of n records.
func writeError(topic string, n int, err error) *WriteError {
	we := &WriteError{Topic: topic, Records: n, Failed: n, Err: err}
	var errs kafka.WriteErrors
	if errors.As(err, &errs) {
		we.Failed = errs.Count()
		we.Err = nil
		for _, e := range errs {
			if e == nil {
				continue
			}
			if we.Err == nil || (retriable(classify(we.Err), we.Err) && !retriable(classify(e), e)) {
				we.Err = e
			}
		}
		if we.Err == nil { // not expected: an empty WriteErrors
			we.Err = err
		}
	}
	we.Kind = classify(we.Err)
	we.Retriable = retriable(we.Kind, we.Err)
	return we
}
