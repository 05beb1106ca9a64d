package bench

import (
	"context"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Settings of the backfill scenarios. The fetch-only and produce-only
// children copy the producer's defaults (config.Defaults) for the rest.
const (
	backfillCompanies = 200
	unlimitedRate     = "1000000" // JELOU_RATE_LIMIT must be positive
)

// backfillRange is days ending two days ago on an hour, so that every
// conversation (long-lived ones last at most 30 hours) is terminal: one
// event per conversation.
func backfillRange(days int) (from, to time.Time) {
	to = time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Hour)
	return to.Add(-time.Duration(days) * 24 * time.Hour), to
}

// backfill is scenario 1: end-to-end backfill against the two limits
// measured in the same run.
func (h *Harness) backfill(ctx context.Context) error {
	const sc = "1 backfill"
	// -short keeps the rows per window (and so the pages per window) of
	// the full run: a tenth of the conversations over a tenth of the days.
	n, days := pick(h, 1_000_000, 100_000), pick(h, 30, 3)
	from, to := backfillRange(days)
	sim, err := StartSim(jelousim.Config{Data: jelousim.DataConfig{Seed: 1, Start: from, End: to, Count: n, Companies: backfillCompanies}})
	if err != nil {
		return err
	}
	defer sim.Close()
	h.table.Add(sc, "data", fmt.Sprintf("%d conversations, %d days, %d companies, no latency, no rate limit", n, days, backfillCompanies))

	dir, err := os.MkdirTemp(h.opts.Dir, "backfill-")
	if err != nil {
		return err
	}
	sample, avg, err := h.writeSample(ctx, sim, from, dir)
	if err != nil {
		return err
	}
	// The three measurements alternate, backfillRounds times, and each
	// keeps its fastest round: on a shared machine the slow rounds measure
	// the neighbours.
	var e2e, fetch, produce measured
	d := config.Defaults() // what the producer runs with, unless ProducerEnv says otherwise
	for r := range backfillRounds {
		h.logf("round %d/%d: end to end (jelou-producer backfill of %d conversations)", r+1, backfillRounds, n)
		// A backfill keeps its checkpoint beside CHECKPOINT_PATH, named by
		// its range: every round needs a directory of its own.
		m, err := h.backfillOnce(ctx, sim, from, to, filepath.Join(dir, fmt.Sprint("round-", r), "checkpoint.json"))
		if err != nil {
			return err
		}
		e2e.keep(m)
		h.logf("round %d/%d: fetch only", r+1, backfillRounds)
		fcfg, _ := json.Marshal(FetchConfig{BaseURL: sim.URL, From: from, To: to, Window: d.Poll.Window, Concurrency: d.Poll.Concurrency})
		res, u, err := h.child(ctx, "fetch", fcfg)
		if err != nil {
			return err
		}
		fetch.keep(measured{n: res.Rows, pages: res.Pages, u: u})
		h.logf("round %d/%d: produce only (%d records of %.0f bytes on average)", r+1, backfillRounds, e2e.n, avg)
		ptopic := topicName("produce")
		if err := h.broker.CreateTopic(ctx, ptopic, 6); err != nil {
			return err
		}
		pcfg, _ := json.Marshal(ProduceConfig{
			Brokers: h.broker.Addrs, Topic: ptopic, SampleFile: sample, Records: int(m.n),
			Chunk: int(math.Ceil(float64(n) / float64(days*24))), Concurrency: d.Poll.Concurrency,
			BatchSize: d.Kafka.BatchSize, BatchBytes: int64(d.Kafka.BatchBytes), Linger: d.Kafka.Linger, Compression: h.compression(),
		})
		_, u, err = h.child(ctx, "produce", pcfg)
		_ = h.broker.DeleteTopic(context.WithoutCancel(ctx), ptopic)
		if err != nil {
			return err
		}
		produce.keep(measured{n: m.n, u: u})
	}

	per10k := func(m measured) string {
		return fmt.Sprintf("%.2f CPU s", m.u.CPU.Seconds()/float64(m.n)*1e4)
	}
	h.table.Add(sc, "end to end: events, wall", fmt.Sprintf("%d events (%d API requests), %s (rounds: %s)", e2e.n, e2e.pages, dur(e2e.u.Wall), e2e.walls()))
	h.table.Add(sc, "end to end: rate", fmt.Sprintf("%.0f events/s", e2e.rate()))
	h.table.Add(sc, "end to end: CPU per 10k events", per10k(e2e)+fmt.Sprintf(" (%.1f s total, %.2f cores)", e2e.u.CPU.Seconds(), e2e.u.CPU.Seconds()/e2e.u.Wall.Seconds()))
	h.table.Add(sc, "end to end: peak RSS", mib(e2e.u.MaxRSS))
	h.table.Add(sc, "fetch only: rate", fmt.Sprintf("%.0f rows/s (%d rows, %d pages, %s, rounds: %s; %s per 10k, peak RSS %s)",
		fetch.rate(), fetch.n, fetch.pages, dur(fetch.u.Wall), fetch.walls(), per10k(fetch), mib(fetch.u.MaxRSS)))
	h.table.Add(sc, "produce only: rate", fmt.Sprintf("%.0f records/s (%.0f B avg, %s, rounds: %s; %s per 10k, peak RSS %s)",
		produce.rate(), avg, dur(produce.u.Wall), produce.walls(), per10k(produce), mib(produce.u.MaxRSS)))
	ratio := e2e.rate() / min(fetch.rate(), produce.rate())
	h.table.Target(sc, "end to end ÷ min(fetch, produce)", fmt.Sprintf("%.2f", ratio), "≥ 0.80", ratio >= 0.8)
	if e2e.n != int64(n) {
		h.table.Target(sc, "events published", fmt.Sprint(e2e.n), fmt.Sprintf("= %d (one per conversation)", n), false)
	}
	return nil
}

// backfillRounds is how many times scenario 1 measures each rate.
const backfillRounds = 2

// measured is one rate measurement: n items (events, rows, records) in the
// usage u, the fastest of the rounds seen, with every round's wall time.
type measured struct {
	n, pages int64
	u        Usage
	all      []time.Duration
}

func (m *measured) keep(r measured) {
	all := append(m.all, r.u.Wall)
	if m.all == nil || r.u.Wall < m.u.Wall {
		*m = r
	}
	m.all = all
}

func (m measured) rate() float64 { return float64(m.n) / m.u.Wall.Seconds() }

func (m measured) walls() string {
	s := ""
	for i, d := range m.all {
		if i > 0 {
			s += ", "
		}
		s += dur(d)
	}
	return s
}

// backfillOnce runs the producer's backfill of [from, to] into a fresh topic
// and returns the events it published, the API requests it made and its usage.
func (h *Harness) backfillOnce(ctx context.Context, sim *Sim, from, to time.Time, checkpointPath string) (measured, error) {
	topic := topicName("backfill")
	if err := h.broker.CreateTopic(ctx, topic, 6); err != nil {
		return measured{}, err
	}
	defer h.broker.DeleteTopic(context.WithoutCancel(ctx), topic)
	before := sim.Stats().Requests
	env := h.producerEnv(sim, topic, checkpointPath, "JELOU_RATE_LIMIT="+unlimitedRate)
	u, events, err := h.runBackfill(ctx, from, to, topic, env)
	if err != nil {
		return measured{}, err
	}
	return measured{n: events, pages: sim.Stats().Requests - before, u: u}, nil
}

// runBackfill runs `jelou-producer backfill` of [from, to] with env, waiting
// up to ten minutes, and returns its usage and the records then in topic.
func (h *Harness) runBackfill(ctx context.Context, from, to time.Time, topic string, env []string) (Usage, int64, error) {
	p, err := Start("jelou-producer backfill", h.opts.ProducerBin,
		[]string{"backfill", "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--progress", "1h"}, env, nil)
	if err != nil {
		return Usage{}, 0, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	u, err := p.Wait(wctx)
	cancel()
	if err != nil {
		return Usage{}, 0, err
	}
	events, err := h.broker.Records(ctx, topic)
	if err != nil {
		return Usage{}, 0, err
	}
	return u, events, nil
}

// child runs the harness binary as a baseline child and returns its result
// and usage.
func (h *Harness) child(ctx context.Context, role string, cfg []byte) (ChildResult, Usage, error) {
	out := &tail{max: 1 << 16}
	env := append(baseEnv(), ChildEnv+"="+role, ChildConfigEnv+"="+string(cfg))
	p, err := Start(role+"-only", h.opts.SelfBin, nil, env, out)
	if err != nil {
		return ChildResult{}, Usage{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	u, err := p.Wait(wctx)
	if err != nil {
		return ChildResult{}, u, err
	}
	var res ChildResult
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		return ChildResult{}, u, fmt.Errorf("%s-only result: %w", role, err)
	}
	return res, u, nil
}

// writeSample encodes real events from a day of the simulator's rows, as the
// producer encodes them, into a file for the produce-only child, and returns
// its path and the average record size (key plus value).
func (h *Harness) writeSample(ctx context.Context, sim *Sim, from time.Time, dir string) (string, float64, error) {
	// A day of rows takes hundreds of pages: MaxPages bounds it well above.
	client, err := jelou.New(jelou.Config{BaseURL: sim.URL, RateLimit: -1, MaxPages: 1000,
		Credentials: jelou.Credentials{ClientID: SimClientID, ClientSecret: SimClientSecret}})
	if err != nil {
		return "", 0, err
	}
	w := jelou.Window{Start: from.Add(24 * time.Hour), End: from.Add(48 * time.Hour)}
	res, err := client.FetchWindow(ctx, w)
	if err != nil {
		return "", 0, fmt.Errorf("sample rows: %w", err)
	}
	src := event.NewSource(checkpoint.SourceID(sim.URL, SimClientID))
	var sample []SampleRecord
	total := 0
	for _, c := range res.Conversations {
		ev := event.New(src, c, "", w, time.Now())
		key, _ := ev.Key()
		value, hs, err := ev.Encode(event.Structured)
		if err != nil {
			return "", 0, fmt.Errorf("sample event: %w", err)
		}
		khs := make([]kafka.Header, len(hs))
		for i, h := range hs {
			khs[i] = kafka.Header(h)
		}
		sample = append(sample, SampleRecord{Key: key, Value: value, Headers: khs})
		total += len(key) + len(value)
	}
	if len(sample) == 0 {
		return "", 0, fmt.Errorf("sample window %s is empty", w)
	}
	path := filepath.Join(dir, "sample.gob")
	f, err := os.Create(path)
	if err != nil {
		return "", 0, err
	}
	if err := gob.NewEncoder(f).Encode(sample); err != nil {
		f.Close()
		return "", 0, err
	}
	return path, float64(total) / float64(len(sample)), f.Close()
}

// apiBound is scenario 2: a backfill the API's latency and rate limit bound.
func (h *Harness) apiBound(ctx context.Context) error {
	const (
		sc      = "2 api-bound"
		limit   = 20.0
		latency = 100 * time.Millisecond
		window  = 24 * time.Hour
		conc    = 8
	)
	const days = 30
	n := pick(h, 50_000, 12_000)
	from, to := backfillRange(days)
	sim, err := StartSim(jelousim.Config{
		Data:      jelousim.DataConfig{Seed: 2, Start: from, End: to, Count: n, Companies: backfillCompanies},
		Latency:   latency,
		RateLimit: limit,
	})
	if err != nil {
		return err
	}
	defer sim.Close()
	// Pages the windows need: the least the producer can ask for.
	need := 0
	for _, w := range windows(from, to, window) {
		lo, hi := sim.Dataset().Range(w.Start.Unix(), w.End.Unix())
		need += max(1, (hi-lo+99)/100)
	}
	topic := topicName("api")
	if err := h.broker.CreateTopic(ctx, topic, 6); err != nil {
		return err
	}
	defer h.broker.DeleteTopic(context.WithoutCancel(ctx), topic)
	dir, err := os.MkdirTemp(h.opts.Dir, "api-")
	if err != nil {
		return err
	}
	env := h.producerEnv(sim, topic, filepath.Join(dir, "checkpoint.json"),
		"JELOU_RATE_LIMIT=20", "POLL_WINDOW=24h", fmt.Sprintf("POLL_CONCURRENCY=%d", conc))
	h.logf("jelou-producer backfill of %d conversations at 20 req/s, 100 ms a page", n)
	u, events, err := h.runBackfill(ctx, from, to, topic, env)
	if err != nil {
		return err
	}
	st := sim.Stats()
	floor := time.Duration(float64(st.Requests) / limit * float64(time.Second))
	h.table.Add(sc, "data", fmt.Sprintf("%d conversations, %d days; sim: %s a page, %g req/s; JELOU_RATE_LIMIT=20, POLL_WINDOW=24h, POLL_CONCURRENCY=%d",
		n, days, latency, limit, conc))
	h.table.Add(sc, "requests", fmt.Sprintf("%d (the windows need %d pages), %d events", st.Requests, need, events))
	ratio := u.Wall.Seconds() / floor.Seconds()
	h.table.Target(sc, "wall ÷ (requests ÷ 20/s)", fmt.Sprintf("%.3f (%s for %s)", ratio, dur(u.Wall), dur(floor)), "≤ 1.05", ratio <= 1.05)
	h.table.Target(sc, "429 responses", fmt.Sprint(st.ByStatus[429]), "0", st.ByStatus[429] == 0)
	h.table.Add(sc, "CPU, peak RSS", fmt.Sprintf("%.2f CPU s, %s", u.CPU.Seconds(), mib(u.MaxRSS)))
	return nil
}
