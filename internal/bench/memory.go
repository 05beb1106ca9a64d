package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/dedupe"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// memory is scenario 4: the dedupe index of a million tracked conversations
// (heap, snapshot, checkpoint file), then the producer restarted on that
// checkpoint: time to its first API request and its memory.
func (h *Harness) memory(ctx context.Context) error {
	const sc = "4 memory"
	const n = 1_000_000
	now := time.Now().UTC().Truncate(time.Second)
	ix, heap := trackedIndex(n, now)
	h.table.Target(sc, "heap of dedupe index, 1M tracked (in process)", fmt.Sprintf("%s (%.1f B/conversation)", mib(int64(heap)), float64(heap)/n),
		"≤ 64 MiB", heap <= 64<<20)
	h.table.Add(sc, "revisit state", "≤ POLL_REVISIT÷POLL_WINDOW = 48 bucket entries (negligible)")

	sim, err := StartSim(jelousim.Config{Data: jelousim.DataConfig{Seed: 4, Start: now.Add(-time.Hour), End: now.Add(time.Hour), Count: 10_000}})
	if err != nil {
		return err
	}
	defer sim.Close()
	var snap bytes.Buffer
	if err := ix.WriteSnapshot(&snap); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	dir, err := os.MkdirTemp(h.opts.Dir, "memory-")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "checkpoint.json")
	store, err := checkpoint.NewFile(path)
	if err != nil {
		return err
	}
	if err := store.Save(ctx, &checkpoint.Checkpoint{
		Source: checkpoint.SourceID(sim.URL, SimClientID), Cursor: now.Add(-time.Minute), SavedAt: now, Dedupe: snap.Bytes(),
	}); err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	h.table.Add(sc, "checkpoint size, 1M tracked", fmt.Sprintf("%s (dedupe snapshot %s, %.1f B/conversation)", mib(fi.Size()), mib(int64(snap.Len())), float64(fi.Size())/n))

	// Restart on that checkpoint.
	port, err := freePort()
	if err != nil {
		return err
	}
	topic := topicName("memory")
	if err := h.broker.CreateTopic(ctx, topic, 6); err != nil {
		return err
	}
	defer h.broker.DeleteTopic(context.WithoutCancel(ctx), topic)
	env := h.producerEnv(sim, topic, path, "HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port), "JELOU_RATE_LIMIT=100")
	h.logf("jelou-producer run on a checkpoint of %d conversations", n)
	p, err := Start("jelou-producer run", h.opts.ProducerBin, []string{"run"}, env, nil)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	first, err := sim.WaitFirstRequest(wctx)
	cancel()
	if err != nil {
		_, werr := p.Stop(10 * time.Second)
		return fmt.Errorf("restart: %w (%v)", err, werr)
	}
	restart := first.Sub(p.Started())
	h.table.Target(sc, "restart → first API request", dur(restart), "≤ 1s", restart <= time.Second)
	// Let the first poll and the revisits it triggers run, then look.
	time.Sleep(3 * time.Second)
	tracked, terr := scrapeGauge(fmt.Sprintf("http://127.0.0.1:%d/metrics", port), `jelou_producer_tracked_conversations{source="`+config.DefaultSourceID+`"}`)
	rss, rerr := ProcStatus(p.Pid(), "VmRSS")
	u, err := p.Stop(30 * time.Second)
	if err != nil {
		return err
	}
	if terr != nil || rerr != nil {
		return fmt.Errorf("after restart: %v %v", terr, rerr)
	}
	h.table.Add(sc, "producer after restart", fmt.Sprintf("%.0f tracked, RSS %s, peak RSS %s", tracked, mib(rss), mib(u.MaxRSS)))
	return nil
}

// trackedIndex builds a dedupe index of n acknowledged conversations
// started over the last 48 hours (one in ten still active) and returns it
// with the heap it holds.
func trackedIndex(n int, now time.Time) (*dedupe.Index, uint64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix := dedupe.New()
	step := 48 * time.Hour / time.Duration(n)
	for i := range n {
		start := now.Add(-time.Duration(i) * step)
		id := fmt.Sprintf("%08x%08x%08x", uint32(start.Unix()), 0xbe4c4, i)
		st := jelou.StateClosed
		if i%10 == 0 {
			st = jelou.StateActive
		}
		ix.Observe(id, st, start)
		ix.Ack(id, st)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	return ix, after.HeapAlloc - before.HeapAlloc
}

// freePort returns a TCP port of 127.0.0.1 free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// scrapeGauge reads one unlabelled sample from a Prometheus text endpoint.
func scrapeGauge(url, name string) (float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("scrape %s: no %s", url, name)
}
