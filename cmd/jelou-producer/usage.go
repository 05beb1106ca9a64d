package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
)

// isHelpFlag reports whether arg asks for help.
func isHelpFlag(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

// newFlagSet returns the flag set of one command. Its usage text names the
// command and its arguments (synopsis) and says in a sentence what it does.
func newFlagSet(name, synopsis, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: jelou-producer %s\n\n%s\n", synopsis, summary)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(w, "\nflags:\n")
			fs.PrintDefaults()
		}
		fmt.Fprintf(w, "\nConfiguration is read from environment variables; see 'jelou-producer config'.\n")
	}
	return fs
}

// parseFlags parses args with fs. When done is true the command must return
// code at once: help was asked for (-h, -help, --help), and the command's
// usage went to stdout with exitOK; or a flag was wrong, and the error and
// the usage went to stderr with exitUsage.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, done bool) {
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, _ = buf.WriteTo(stdout)
		return exitOK, true
	case err != nil:
		_, _ = buf.WriteTo(stderr)
		return exitUsage, true
	}
	return exitOK, false
}
