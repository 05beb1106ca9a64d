package jelousim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
)

// Example serves 61 conversations of one day and asks for the first page of
// one row, as in the vendor's sample, with the raw Authorization form.
func Example() {
	day := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	sim, err := jelousim.New(jelousim.Config{
		Data:  jelousim.DataConfig{Seed: 1, Start: day, End: day.Add(24 * time.Hour), Count: 61},
		Clock: clock.NewScaled(day.Add(10*24*time.Hour), 1), // ten days later: all terminal
	})
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(sim)
	defer ts.Close()

	req, _ := http.NewRequest(http.MethodPost, ts.URL+jelousim.APIPath+"?limit=1",
		strings.NewReader(`{"startAt":"2025-01-01T00:00:00Z","endAt":"2025-01-01T23:59:59Z","getJson":true}`))
	req.Header.Set("Authorization", "sim-client:sim-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status     string
		Pagination json.RawMessage
		Links      []struct{ URL string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		panic(err)
	}
	fmt.Println(resp.StatusCode, body.Status)
	fmt.Println(string(body.Pagination))
	fmt.Println(body.Links[1].URL)
	fmt.Println(sim.ServedCount(), "pair served")
	// Output:
	// 200 success
	// {"limit":1,"total":61,"offset":0,"totalPages":61}
	// /v1/metrics/conversations/attended/external?limit=1&page=2
	// 1 pair served
}
