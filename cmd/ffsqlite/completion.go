package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// The completion scripts ask the binary itself: the words before the
// cursor plus --generate-bash-completion, urfave/cli's completion mode,
// which prints the subcommands of the command typed so far, or, when the
// last word starts with "-", the flags of the leaf command that start
// with it. The word under the cursor is passed only when it is a flag
// prefix ("--" is passed as "-": a bare "--" would end flag parsing and
// turn completion off). Nothing is asked after a "--" typed earlier,
// where only positional arguments follow. SHELL is set so the output
// format (zsh's "name:usage") does not depend on the login shell.
const bashCompletion = `# ffsqlite bash completion: source <(ffsqlite completion bash)
_ffsqlite_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}" w words
  local -a prefix=()
  for w in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    [[ "$w" == "--" ]] && return 0
  done
  case "$cur" in
    --) prefix=(-) ;;
    -*) prefix=("$cur") ;;
  esac
  words=$(SHELL=bash "${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:COMP_CWORD-1}" "${prefix[@]}" --generate-bash-completion 2>/dev/null)
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _ffsqlite_complete ffsqlite
`

const zshCompletion = `#compdef ffsqlite
# ffsqlite zsh completion: source <(ffsqlite completion zsh)
_ffsqlite() {
  local cur=${words[CURRENT]} w
  local -a prefix opts
  for w in "${(@)words[2,CURRENT-1]}"; do
    [[ "$w" == "--" ]] && return 1
  done
  case "$cur" in
    --) prefix=(-) ;;
    -*) prefix=("$cur") ;;
  esac
  opts=("${(@f)$(SHELL=zsh ${words[1]} "${(@)words[2,CURRENT-1]}" "${(@)prefix}" --generate-bash-completion 2>/dev/null)}")
  opts=(${opts:#})
  if (( ${#opts} )); then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _ffsqlite ffsqlite
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash or zsh)",
		ArgsUsage: "bash|zsh",
		Action: func(c *cli.Context) error {
			switch c.Args().First() {
			case "bash", "":
				fmt.Fprint(c.App.Writer, bashCompletion)
			case "zsh":
				fmt.Fprint(c.App.Writer, zshCompletion)
			default:
				return usageErr("ffsqlite completion bash|zsh", "unknown shell %q", c.Args().First())
			}
			return nil
		},
	}
}
