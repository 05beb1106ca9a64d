// Package docs holds jelou-producer's documentation, one Markdown page per
// topic, indexed by docs/README.md. It has no code: its test checks that every
// relative link in the top-level README.md and in these pages points at a
// file that exists, and that the index lists every page.
package docs
