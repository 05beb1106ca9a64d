// Package jelousim provides a simulated Jelou "attended conversations" API
// (POST /v1/metrics/conversations/attended/external) for tests, demos,
// benchmarks and fault suites, with an oracle of what it served.
//
// It writes its JSON by hand and shares no code with the client in pkg/jelou,
// so that the two check each other.
//
// # Data
//
// [Generate] draws Count conversation start times uniformly in [Start, End)
// from Seed, sorts them, and caches each one's attend delay (seconds, or for
// LateRatio of them minutes, at most [MaxAttendDelay]): 10 bytes a
// conversation. Every other attribute is derived when needed from the seed
// and the conversation's index: a 24-hex Mongo-like id (start time, a
// per-seed part, the index), a transition time at which the conversation leaves
// active for closed, resolved or expired (minutes to hours, or between
// ActiveMin and ActiveMax after it became visible when those are set; 10 to
// 30 hours for LongLivedRatio of them, so some are still active past End), and names
// picked from small tables. The same DataConfig gives the same data.
//
// # Visibility and state
//
// At clock time now a conversation is listed only once it is visible
// (start + attend delay <= now), in state active before its transition and
// in its final state from then on, with endAt set. Conversations that start
// after now appear as the clock advances: with [clock.Scaled] the simulator
// is a live source. Everything works on whole seconds.
//
// # Wire format
//
// Bodies follow the vendor page exactly: 200 with message, status, results,
// pagination {limit, total, offset, totalPages} (page only with
// Config.IncludePage) and links; the documented 401, 422, 429 and 500
// bodies. Rows carry every documented field, times as "2006-01-02 15:04:05"
// in Config.Location, endAt and endedReason null (or "") while active,
// conversationDuration so far while active, and one undocumented member,
// "tags", so clients can prove unknown fields survive.
//
// The window filter is start in [startAt, endAt], both inclusive, fractions
// of a second truncated. startAt and endAt must be ISO 8601 with an offset or
// Z; getJson must be true; limit and page must be positive integers. A limit
// above Config.PageCap is served with PageCap rows and pagination.limit set
// to PageCap. A page past the end has no rows and the true pagination. Links
// list the previous, current and next pages, as the vendor's sample does.
// 422 responses carry the reason in an X-Sim-Reason header, never in the body.
//
// # Authentication
//
// Authorization may be "Basic base64(id:secret)" or the bare "id:secret"
// (Config.Auth selects which are accepted). [Server.SetCredentials] and
// [Server.Revoke] change them at run time.
//
// # Faults
//
// A request passes, in order: added latency (wall time), the server-side
// rate limit (429 with Retry-After in seconds), status faults (401, 422, 429,
// 500, HTML 502, 503), authentication, validation, then response faults
// (truncated or slow body, drift, bad rows, empty results, oversized body).
// Faults come from a scripted queue ([Server.InjectNext]), consumed in order
// by the requests that reach the fault's phase, or are drawn at random with
// Config.FaultRates. Scripted faults win over random ones.
//
// # Oracle
//
// The server records, two bits a conversation, which (id, state) pairs it
// served in complete, well-formed 200 responses: rows a fault removed or
// broke, and truncated or oversized bodies, do not count.
// [Server.ServableSeq] lists every pair a perfect poller could have seen by
// a given time, with when it was first served ([Dataset.FirstServable]);
// compare the two, or a consumer's output with the latter, to judge a client.
//
// # Admin endpoints
//
// The same handler serves JSON endpoints under /_sim/ so that a test can
// drive a simulator running in another process:
//
//	GET    /_sim/stats                          counters (Stats)
//	GET    /_sim/served                         {"pairs":[{"_id","state"}...],"count"}
//	GET    /_sim/servable?asOf=RFC3339          {"asOf","pairs":[{"_id","state","firstServableAt","until"}...],"count"}
//	GET    /_sim/first-servable?id=&state=      {"_id","state","firstServableAt"}
//	GET    /_sim/faults                         current FaultSettings
//	POST   /_sim/faults                         FaultRequest: {"clear","next":[{"kind","count",...}],"rates","latency","jitter"}
//	DELETE /_sim/faults                         clear every fault
//	POST   /_sim/credentials                    {"revoke":true} or {"clientId","clientSecret"}
//	POST   /_sim/reset                          forget served pairs, zero counters
//
// They are unauthenticated: never expose a simulator beyond a test network.
package jelousim
