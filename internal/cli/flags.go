package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
)

// parseFlags parses and reports errors itself: usage goes to stderr for
// -h (exit 0); a bad flag gets one line naming it and pointing to --help
// (exit 2), as kubectl and istioctl do, not the flag package's message
// followed by every flag's usage.
func parseFlags(fs *flag.FlagSet, args []string, io IO) (int, bool) {
	pos, code, ok := parse(fs, args, io, false)
	if ok && len(pos) > 0 {
		fmt.Fprintf(io.Err, "%s: unexpected argument %q (see: %s --help)\n", fs.Name(), pos[0], fs.Name())
		return 2, false
	}
	return code, ok
}

// parse parses args into fs. With interleaved, arguments that are not
// flags may come between flags and are returned in order; otherwise
// parsing stops at the first and the rest are returned.
func parse(fs *flag.FlagSet, args []string, io IO, interleaved bool) (pos []string, code int, ok bool) {
	usage := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(discard)
	defer func() { fs.Usage = usage; fs.SetOutput(io.Err) }()
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(io.Err)
				usage()
				return nil, 0, false
			}
			fmt.Fprintf(io.Err, "%s: %s (see: %s --help)\n", fs.Name(), flagError(err), fs.Name())
			return nil, 2, false
		}
		if !interleaved || fs.NArg() == 0 {
			return append(pos, fs.Args()...), 0, true
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// discard is io.Discard under a name the io parameters do not shadow.
var discard = io.Discard

// The flag package's messages, rewritten to name the flag as the reader
// typed it (with two dashes, the form the help shows).
var flagErrors = []struct {
	re  *regexp.Regexp
	say string
}{
	{regexp.MustCompile(`^flag provided but not defined: -+(.*)$`), "unknown flag --$1"},
	{regexp.MustCompile(`^flag needs an argument: -+(.*)$`), "flag --$1 needs a value"},
	{regexp.MustCompile(`^invalid boolean value (".*") for -+([^:]*): .*$`), "flag --$2 takes true or false, not $1"},
	{regexp.MustCompile(`^invalid boolean flag ([^:]*): .*$`), "flag --$1 takes true or false"},
	{regexp.MustCompile(`^invalid value (".*") for flag -+([^:]*): .*$`), "bad value $1 for flag --$2"},
	{regexp.MustCompile(`^bad flag syntax: (.*)$`), "bad flag syntax $1"},
}

func flagError(err error) string {
	msg := err.Error()
	for _, f := range flagErrors {
		if f.re.MatchString(msg) {
			return f.re.ReplaceAllString(msg, f.say)
		}
	}
	return msg
}

// given reports whether the flag name was on the command line, so a
// value equal to the default (--step 0) is still judged.
func given(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
