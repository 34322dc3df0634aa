/**
 * `keyloft completion bash|zsh`: a completion script generated from the commander program
 * (every command, subcommand, option and option choice; no network access while completing).
 */
import { type Command, Option } from 'commander';
import { CommandError, EXIT_USAGE } from '../domain/exit-codes.js';
import { action } from './http-client.js';

interface Node {
  /** Space-joined command path below the program, '' for the top level. */
  path: string;
  subcommands: string[];
  options: string[];
  /** Option flag → allowed values. */
  choices: Record<string, string[]>;
  /** Options that take a value (the next word is not a command). */
  valued: string[];
}

function collect(cmd: Command, path: string, out: Node[]): void {
  const options: string[] = [];
  const choices: Record<string, string[]> = {};
  const valued: string[] = [];
  const opts = [...cmd.options] as Option[];
  for (const o of opts) {
    if (o.hidden) continue;
    for (const f of [o.long, o.short]) {
      if (!f) continue;
      options.push(f);
      if (o.required || o.optional) valued.push(f);
      if (o.argChoices) choices[f] = o.argChoices;
    }
  }
  options.push('--help');
  const subs = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
  out.push({ path, subcommands: subs.flatMap((c) => [c.name(), ...c.aliases()]), options, choices, valued });
  for (const c of subs) {
    collect(c, path ? `${path} ${c.name()}` : c.name(), out);
    for (const a of c.aliases()) collect(c, path ? `${path} ${a}` : a, out);
  }
}

const esc = (s: string) => s.replace(/[^A-Za-z0-9_ .:/@=-]/g, '');
/** A command path as the scripts spell it: words joined by dots. */
const key = (path: string) => esc(path).replace(/ /g, '.');

function bash(nodes: Node[]): string {
  const words = nodes.map((n) => `    "${key(n.path)}") words="${esc([...n.subcommands, ...n.options].join(' '))}" ;;`).join('\n');
  const choiceCases = nodes
    .flatMap((n) =>
      Object.entries(n.choices).map(([f, c]) => `    "${key(n.path)}|${esc(f)}") COMPREPLY=( $(compgen -W "${esc(c.join(' '))}" -- "$cur") ); return ;;`),
    )
    .join('\n');
  const valued = nodes.flatMap((n) => n.valued.map((f) => `${key(n.path)}|${esc(f)}`));
  const subs = nodes.flatMap((n) => n.subcommands.map((s) => `${key(n.path)}|${esc(s)}`));
  return `# bash completion for keyloft. Install:
#   keyloft completion bash > ~/.local/share/bash-completion/completions/keyloft
# or add to ~/.bashrc:  source <(keyloft completion bash)
_keyloft() {
  local cur prev kpath word i words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  kpath=""
  local valued=" ${valued.join(' ')} "
  local subs=" ${subs.join(' ')} "
  i=1
  while [ $i -lt $COMP_CWORD ]; do
    word="\${COMP_WORDS[i]}"
    if [ "$word" = "--" ]; then return 0; fi
    case "$word" in
      -*) if [[ "$valued" == *" $kpath|$word "* ]]; then i=$((i+1)); fi ;;
      *) if [[ "$subs" == *" $kpath|$word "* ]]; then kpath="\${kpath:+$kpath.}$word"; fi ;;
    esac
    i=$((i+1))
  done
  case "$kpath|$prev" in
${choiceCases}
  esac
  if [[ "$valued" == *" $kpath|$prev "* ]]; then COMPREPLY=( $(compgen -f -- "$cur") ); return 0; fi
  case "$kpath" in
${words}
    *) words="" ;;
  esac
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
  if [ \${#COMPREPLY[@]} -eq 0 ] && [[ "$cur" != -* ]]; then COMPREPLY=( $(compgen -f -- "$cur") ); fi
  return 0
}
complete -o default -F _keyloft keyloft
`;
}

function zsh(nodes: Node[]): string {
  const words = nodes.map((n) => `    "${key(n.path)}") words=(${[...n.subcommands, ...n.options].map(esc).join(' ')}) ;;`).join('\n');
  const choiceCases = nodes
    .flatMap((n) => Object.entries(n.choices).map(([f, c]) => `    "${key(n.path)}|${esc(f)}") compadd -- ${c.map(esc).join(' ')}; return ;;`))
    .join('\n');
  const valued = nodes.flatMap((n) => n.valued.map((f) => `${key(n.path)}|${esc(f)}`));
  const subs = nodes.flatMap((n) => n.subcommands.map((s) => `${key(n.path)}|${esc(s)}`));
  return `#compdef keyloft
# zsh completion for keyloft. Install:
#   keyloft completion zsh > "\${fpath[1]}/_keyloft"    (then restart zsh)
# or add to ~/.zshrc (after compinit):  source <(keyloft completion zsh)
_keyloft() {
  local kpath="" word prev i
  local valued=" ${valued.join(' ')} "
  local subs=" ${subs.join(' ')} "
  i=2
  while (( i < CURRENT )); do
    word="\${words[i]}"
    [[ "$word" == "--" ]] && return 0
    if [[ "$word" == -* ]]; then
      [[ "$valued" == *" $kpath|$word "* ]] && (( i++ ))
    elif [[ "$subs" == *" $kpath|$word "* ]]; then
      kpath="\${kpath:+$kpath.}$word"
    fi
    (( i++ ))
  done
  prev="\${words[CURRENT-1]}"
  case "$kpath|$prev" in
${choiceCases}
  esac
  if [[ "$valued" == *" $kpath|$prev "* ]]; then _files; return; fi
  local -a cands
  case "$kpath" in
${words.replace(/words=\(/g, 'cands=(')}
  esac
  if (( \${#cands} )); then compadd -- "\${cands[@]}"; fi
  [[ "\${words[CURRENT]}" != -* ]] && _files
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  _keyloft "$@"
else
  compdef _keyloft keyloft
fi
`;
}

export function completionScript(program: Command, shell: string): string {
  const nodes: Node[] = [];
  collect(program, '', nodes);
  if (shell === 'bash') return bash(nodes);
  if (shell === 'zsh') return zsh(nodes);
  throw new CommandError(`unsupported shell ${JSON.stringify(shell.slice(0, 40))}: use bash or zsh`, EXIT_USAGE);
}

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (bash or zsh)')
    .argument('<shell>', 'bash or zsh')
    .addHelpText(
      'after',
      `
Examples:
  source <(keyloft completion bash)                                   # in ~/.bashrc
  keyloft completion bash > ~/.local/share/bash-completion/completions/keyloft
  keyloft completion zsh > "\${fpath[1]}/_keyloft"                     # then restart zsh
`,
    )
    .action(
      action(async (shell: string) => {
        process.stdout.write(completionScript(program, shell));
      }),
    );
}
