package publish_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/pkg/event"
)

func Example() {
	ctx := context.Background()
	p, err := publish.New(ctx, publish.Config{
		Brokers:     []string{"127.0.0.1:19092"},
		Topic:       "jelou.conversations.attended",
		TopicCreate: true,
		SASL:        publish.SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "producer", Password: "from-a-secret"},
	})
	if err != nil {
		log.Fatal(err) // e.g. topic "x" does not exist on brokers [...]; create it or set KAFKA_TOPIC_CREATE=true
	}
	defer p.Close() // flushes

	err = p.Publish(ctx, []event.Record{{
		Key:     []byte("company-42"),
		Value:   []byte(`{"specversion":"1.0"}`),
		Headers: []event.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}},
	}})
	var we *publish.WriteError
	switch {
	case err == nil:
		// Every record is acknowledged by all in-sync replicas: advance the checkpoint.
	case errors.As(err, &we) && we.Retriable:
		// Back off and publish the same records again; duplicates are possible.
	default:
		log.Fatal(err) // too large, not authorized, topic gone: stop and say so
	}
}

func ExampleCheck() {
	info, err := publish.Check(context.Background(), publish.Config{Brokers: []string{"127.0.0.1:19092"}})
	if err != nil {
		fmt.Println("not ready:", err, "kind:", publish.KindOf(err), "retriable:", publish.IsRetriable(err))
		return
	}
	fmt.Printf("topic %s has %d partitions\n", info.Topic, info.Partitions)
}
