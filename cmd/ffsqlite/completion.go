package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

const bashCompletion = `# ffsqlite bash completion: source <(ffsqlite completion bash)
_ffsqlite_complete() {
  local cur words
  cur="${COMP_WORDS[COMP_CWORD]}"
  words=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:$COMP_CWORD-1}" --generate-bash-completion 2>/dev/null)
  COMPREPLY=( $(compgen -W "${words}" -- "${cur}") )
}
complete -o default -F _ffsqlite_complete ffsqlite
`

const zshCompletion = `#compdef ffsqlite
# ffsqlite zsh completion: source <(ffsqlite completion zsh)
_ffsqlite() {
  local -a opts
  opts=("${(@f)$(${words[1]} ${words[@]:1:$CURRENT-2} --generate-bash-completion 2>/dev/null)}")
  _describe 'values' opts
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
