// Command jelou-kafka runs the in-process Kafka-protocol broker
// (github.com/twmb/franz-go/pkg/kfake) as a process of its own, so that
// end-to-end tests and benchmarks can put the broker in another process than
// the producer, stop it and start it again on the same port, without Java or
// Docker. It is a test and demo tool, not a Kafka to run in production.
//
// Usage:
//
//	jelou-kafka [-addr 127.0.0.1:19092] [-data-dir DIR] [-topic NAME -partitions N]
//
// It prints "jelou-kafka listening on HOST:PORT" once it accepts
// connections, and stops on SIGINT or SIGTERM. With -data-dir the topics and
// records survive a restart (kfake's own persistence).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("jelou-kafka", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:19092", "listen address (host:port; port 0 picks a free one)")
	dataDir := fs.String("data-dir", "", "persist topics and records here, so a restart keeps them")
	topics := fs.String("topic", "", "comma-separated topics to create at start")
	partitions := fs.Int("partitions", 6, "partitions of the topics created at start")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	host, portS, err := net.SplitHostPort(*addr)
	port, perr := strconv.Atoi(portS)
	if err != nil || perr != nil || port < 0 || port > 65535 {
		fmt.Fprintf(stderr, "jelou-kafka: -addr must be host:port, got %q\n", *addr)
		return 2
	}
	// Signals are caught before the listening line is printed, so a
	// supervisor that stops the broker right after reading that line
	// still gets a clean exit.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ListenFn(func(network, a string) (net.Listener, error) {
			_, p, _ := net.SplitHostPort(a)
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
	}
	if *dataDir != "" {
		opts = append(opts, kfake.DataDir(*dataDir))
	}
	if *topics != "" {
		opts = append(opts, kfake.SeedTopics(int32(*partitions), strings.Split(*topics, ",")...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintf(stderr, "jelou-kafka: start: %v\n", err)
		return 1
	}
	defer c.Close()
	fmt.Fprintf(stdout, "jelou-kafka listening on %s\n", strings.Join(c.ListenAddrs(), ","))
	<-ctx.Done()
	return 0
}
