package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// flagsFirst moves a leaf command's flags in front of its positional
// arguments. urfave/cli v2 stops parsing flags at the first positional
// argument, so without this `migrate up-to 5 --db x.db` would ignore
// --db. A "--" ends flag handling, as usual.
//
// urfave/cli's completion mode needs --generate-bash-completion to stay
// the last argument, so it is kept there.
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	if last := args[len(args)-1]; last == "--generate-bash-completion" {
		return append(flagsFirst(app, args[:len(args)-1:len(args)-1]), last)
	}
	out := []string{args[0]}
	cmds := app.Commands
	i := 1
	var leaf *cli.Command
	for i < len(args) {
		cmd := findCommand(cmds, args[i])
		if cmd == nil {
			break
		}
		out = append(out, args[i])
		leaf, cmds = cmd, cmd.Subcommands
		i++
	}
	if leaf == nil || len(leaf.Subcommands) > 0 {
		return args
	}
	var flags, positional []string
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if takesValue(leaf, name) && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	out = append(out, flags...)
	return append(out, positional...)
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// takesValue reports whether the named flag of cmd expects a value.
func takesValue(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			_, isBool := f.(*cli.BoolFlag)
			return !isBool
		}
	}
	return false
}
