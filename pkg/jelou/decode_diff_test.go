package jelou

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// differentialSeeds are bodies that exercise what a hand-written walk could
// get wrong and a map-based decode gets right by construction.
var differentialSeeds = []string{
	// Repeated names: the last value wins, at every level.
	`{"results":[{"_id":"a","_id":7,"operator":{"names":"x","names":"y"},"operator":{"names":"z"}}],"results":[{"_id":"b"}],"pagination":{"total":1}}`,
	// Escaped names and values, white space everywhere, escaped quotes.
	"{ \"res\\u0075lts\" : [ { \"\\u005fid\" : \"a\\\"b\\\\\" , \"st\\u0061te\":\"closed\" } ] ,\n\"pagination\":{\"total\":1}}",
	// Names differing only in case are not the documented ones.
	`{"Results":[1],"results":[{"ID":"a","State":"closed","_Id":"b","OPERATOR":{"names":"n"}}],"Pagination":{"total":2}}`,
	// Nested values of every kind, unknown members holding brackets in strings.
	`{"results":[{"x":"]}\"{[","_id":"a","bot":{"name":{"a":[1,{"b":"}"}]}},"user":[{"id":"u"}],"company":{"id":12.5},"endAt":"  ","startAt":"2023-06-08 15:52:41.999999999"}],"pagination":{"total":1}}`,
	// Invalid UTF-8 in names and values.
	"{\"results\":[{\"_id\":\"\xff\",\"\xff_id\":\"b\",\"state\":\"a\\ud800b\"}],\"pagination\":{\"total\":1}}",
	// Numbers in every form.
	`{"results":[{"timeRepliedOperator":-0,"conversationDuration":1e3},{"timeRepliedOperator":9223372036854775807,"conversationDuration":-9223372036854775808},{"timeRepliedOperator":9223372036854775808,"conversationDuration":0.5}],"pagination":{"total":3}}`,
	// Rows that are not objects, empty objects, nested arrays.
	`{"results":[null,true,1,"s",[],[{"_id":"a"}],{}],"pagination":{"total":7}}`,
	`{"results":null,"pagination":null}`,
	`{"pagination":{"total":1}}`,
	` {"results":[]} `,
	`{"results":[{"_id":"a"}]`,
}

// benchPage returns a page of n rows shaped like the vendor's sample.
func benchPage(n int) []byte {
	row := `{"_id":"6481f8a9c0ffee0000000%03d","operator":{"names":"Ana Pérez"},"user":{"id":"593999000%03d"},` +
		`"bot":{"name":"Soporte"},"company":{"id":"1234"},"assignationMethod":{"teamName":"Ventas"},` +
		`"state":"closed","endedReason":"closed_by_operator","startAt":"2023-06-08 15:52:41",` +
		`"endAt":"2023-06-08 23:07:56","origin":"ticket","timeRepliedOperator":795880,"conversationDuration":26115953}`
	rs := make([]string, n)
	for i := range rs {
		rs[i] = fmt.Sprintf(row, i, i)
	}
	return []byte(`{"message":["ok"],"status":"success","results":[` + strings.Join(rs, ",") +
		`],"pagination":{"limit":100,"total":100,"offset":0,"totalPages":1},"links":[]}`)
}

// checkSameAsReference fails unless DecodePage and referenceDecodePage (the
// map-based decoder it replaced) return the same page, field for field, or
// the same error, without aliasing the body.
func checkSameAsReference(t *testing.T, body []byte) {
	t.Helper()
	own := bytes.Clone(body)
	got, gotErr := DecodePage(own, guayaquil)
	// Nothing returned may alias the body: the caller may reuse it.
	for i := range own {
		own[i] = 'x'
	}
	want, wantErr := referenceDecodePage(body, guayaquil)
	if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
		t.Fatalf("body %q:\nerror %v\nwant  %v", body, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("body %q:\npage %+v\nwant %+v", body, got, want)
	}
}

func TestDecodePageSameAsReference(t *testing.T) {
	for _, name := range testdataNames(t) {
		t.Run(name, func(t *testing.T) { checkSameAsReference(t, readTestdata(t, name)) })
	}
	for i, s := range differentialSeeds {
		t.Run(fmt.Sprintf("seed %d", i), func(t *testing.T) { checkSameAsReference(t, []byte(s)) })
	}
	t.Run("bench page", func(t *testing.T) { checkSameAsReference(t, benchPage(100)) })
}

// FuzzDifferentialDecodePage checks that DecodePage returns exactly what the
// map-based reference decoder returns, for any body, and that the scanner
// behind it neither panics nor stalls on bodies that are not valid JSON.
func FuzzDifferentialDecodePage(f *testing.F) {
	addTestdataSeeds(f)
	for _, s := range differentialSeeds {
		f.Add([]byte(s))
	}
	f.Add(benchPage(3))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkSameAsReference(t, body)
		// The scanner on raw input: it must end, and on a valid object find
		// the members encoding/json finds.
		var m map[string]json.RawMessage
		valid := json.Unmarshal(body, &m) == nil && m != nil
		trimmed := body[skipSpace(body, 0):]
		it := newObjectIter(trimmed)
		seen := map[string]json.RawMessage{}
		for steps := 0; ; steps++ {
			name, v, ok := it.next()
			if !ok {
				break
			}
			if steps > len(body) {
				t.Fatalf("object walk does not end on %q", body)
			}
			seen[string(name)] = v
		}
		rows := newArrayIter(trimmed)
		for steps := 0; ; steps++ {
			if _, ok := rows.next(); !ok {
				break
			}
			if steps > len(body) {
				t.Fatalf("array walk does not end on %q", body)
			}
		}
		if valid {
			for k, v := range m {
				if string(seen[k]) != string(v) && !strings.ContainsRune(k, '\uFFFD') {
					t.Fatalf("member %q = %q, want %q", k, seen[k], v)
				}
			}
		}
	})
}

// TestVendorTimeSameAsParseTime checks the allocation-free fast path for
// the vendor's timestamp form against ParseTime around every boundary: it
// must either decline or return exactly what ParseTime returns, and it must
// accept every valid, plausible timestamp.
func TestVendorTimeSameAsParseTime(t *testing.T) {
	locs := []*time.Location{time.UTC, guayaquil}
	if ny, err := time.LoadLocation("America/New_York"); err == nil {
		locs = append(locs, ny) // DST gaps and overlaps
	}
	accepted := 0
	for _, loc := range locs {
		for _, year := range []int{0, 1999, 2000, 2023, 2024, 2100, 2199, 2200} {
			for month := 0; month <= 13; month++ {
				for day := 0; day <= 32; day++ {
					for _, hms := range [][3]int{{0, 0, 0}, {2, 30, 0}, {1, 30, 0}, {23, 59, 59}, {24, 0, 0}, {0, 60, 0}, {0, 0, 60}} {
						s := fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", year, month, day, hms[0], hms[1], hms[2])
						got, ok := vendorTime([]byte(`"`+s+`"`), loc)
						want, err := ParseTime(s, loc)
						if ok && (err != nil || got != want) {
							t.Fatalf("%s in %s: fast path %v, ParseTime %v, %v", s, loc, got, want, err)
						}
						if !ok && err == nil {
							t.Fatalf("%s in %s: fast path declined a valid time", s, loc)
						}
						if ok {
							accepted++
						}
					}
				}
			}
		}
	}
	if accepted == 0 {
		t.Fatal("fast path never taken")
	}
	for _, v := range []string{`"2023-06-08 15:52:41.5"`, `"2023-06-08T15:52:41"`, `" 2023-06-08 15:52:41"`, `"2023-06-08 15:52:4x"`, `2023-06-08 15:52:41`} {
		if _, ok := vendorTime([]byte(v), time.UTC); ok {
			t.Errorf("fast path took %s", v)
		}
	}
}

func TestSmallIntSameAsIntValue(t *testing.T) {
	for _, s := range []string{"0", "-0", "7", "-7", "795880", "999999999999999999", "-999999999999999999"} {
		n, ok := smallInt([]byte(s))
		want, err := referenceIntValue(json.RawMessage(s))
		if !ok || err != nil || n != want {
			t.Errorf("smallInt(%s) = %d, %v; want %d, %v", s, n, ok, want, err)
		}
	}
	for _, s := range []string{"", "-", "1.0", "1e3", "9999999999999999999", " 1", "1 ", "--1", "+1"} {
		if n, ok := smallInt([]byte(s)); ok {
			t.Errorf("smallInt(%q) = %d, want declined", s, n)
		}
	}
}
