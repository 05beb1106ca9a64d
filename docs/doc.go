// Package docs holds jelou-producer's documentation, one Markdown page per
// topic, indexed by docs/README.md. It has no code: its tests check that
// every relative link in the top-level README.md and in these pages points at
// a file that exists (and, for a fragment, at a heading of that page), that
// the index lists every page, and that every default the pages state for a
// variable of internal/config is the code's.
package docs
